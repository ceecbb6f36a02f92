// libnumatrace: the in-process recorder.
//
// RULES FOR EVERYTHING IN lib/recorder (it runs inside the traced loader):
// - The event path (every NUMATRACE_* hook) never allocates, never blocks,
//   never throws, takes no lock a signal handler could need, and makes no
//   system call in the steady state (the first event of a thread makes a
//   few, to register it; the first event of a process starts the sinks:
//   opens the trace files, starts the drainer). Compiled with
//   -fno-exceptions -fno-rtti.
// - Signal handlers call only async-signal-safe functions: write(2),
//   tgkill, rt_sigaction, libunwind's local unwinder; no malloc, no stdio.
// - Every descriptor is O_CLOEXEC; nothing survives exec.
// - A thread_local recursion guard (initial-exec TLS, which needs no
//   allocation) makes any call back into the recorder from inside it a
//   counted no-op.
// - The tracer's own failures (sink write errors, full tables) are counted
//   and reported once; they never stop or slow the loader.
// - Never built with sanitizers (see cmake/NumaTraceFlags.cmake).
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

#if defined(__x86_64__)
#include <cpuid.h>
#include <x86intrin.h>
#endif

#include "internal.h"

// The flight recorder itself: in .bss, so in every core dump.
extern "C" __attribute__((visibility("default"))) nt_flight_recorder numatrace_flight_recorder;
nt_flight_recorder numatrace_flight_recorder;

namespace numatrace::rec {

constinit Settings g_settings;
constinit std::atomic<bool> g_ready{false};

namespace {

std::atomic_flag g_table_lock = ATOMIC_FLAG_INIT;
constinit std::atomic<uint32_t> g_threads{0};
constinit std::atomic<uint32_t> g_epoch{1};        // bumped in a forked child: thread records restart
constinit std::atomic<uint32_t> g_table_epoch{1};  // see tables_changed()
constinit CpuSource g_cpu_source = CpuSource::none;

// cpu -> node, from sysfs, for the sources that give the CPU alone (rseq).
constexpr int kMaxCpus = 4096;
int16_t g_cpu_node[kMaxCpus];

// glibc >= 2.35 registers an rseq area per thread (unless the
// glibc.pthread.rseq tunable is 0 or the kernel refuses, as valgrind does);
// the kernel keeps its cpu_id current. Weak: older glibc has no symbols.
extern "C" {
extern const ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}
constexpr size_t kRseqCpuId = 4;  // struct rseq: u32 cpu_id_start, u32 cpu_id, ...

struct TlsState {
  uint32_t epoch;
  int index;
  uint32_t tid;
  bool busy;
};
__attribute__((tls_model("initial-exec"))) thread_local TlsState t_state{0, -1, 0, false};

// The calling thread's block of sequence numbers for resolves (see
// next_resolve_position()).
constexpr uint64_t kSeqBlock = 32;
struct SeqBlock {
  uint64_t next = 0, end = 0;  // ring positions (seq - 1) still to use: [next, end)
  uint32_t table_epoch = 0;
  uint32_t proc_epoch = 0;
};
__attribute__((tls_model("initial-exec"))) thread_local SeqBlock t_block;

uint64_t ns_of(const timespec& ts) {
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t mono_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ns_of(ts);
}

// The vDSO's clock_gettime, called directly rather than through glibc's
// wrapper (a call level less on every event); found at start in the vDSO's
// own symbol table (AT_SYSINFO_EHDR). Null where there is no vDSO (valgrind
// gives none) or it lacks the symbol: glibc's clock_gettime then.
using ClockFn = int (*)(clockid_t, timespec*);
constinit ClockFn g_vdso_clock = nullptr;

ClockFn find_vdso_clock() {
#if defined(__x86_64__) || defined(__aarch64__)
#if defined(__x86_64__)
  static const char kName[] = "__vdso_clock_gettime";
#else
  static const char kName[] = "__kernel_clock_gettime";
#endif
  const auto* base = reinterpret_cast<const char*>(getauxval(AT_SYSINFO_EHDR));
  if (!base) return nullptr;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  if (std::memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64) return nullptr;
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  intptr_t bias = 0;
  bool loaded = false;
  const Elf64_Dyn* dyn = nullptr;
  for (int i = 0; i < eh->e_phnum; ++i) {
    if (ph[i].p_type == PT_LOAD && !loaded) {
      bias = reinterpret_cast<intptr_t>(base) + static_cast<intptr_t>(ph[i].p_offset) -
             static_cast<intptr_t>(ph[i].p_vaddr);
      loaded = true;
    }
    if (ph[i].p_type == PT_DYNAMIC) dyn = reinterpret_cast<const Elf64_Dyn*>(base + ph[i].p_offset);
  }
  if (!loaded || !dyn) return nullptr;
  const Elf64_Sym* symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* hash = nullptr;
  for (; dyn->d_tag != DT_NULL; ++dyn) {
    const auto at = reinterpret_cast<const char*>(bias + static_cast<intptr_t>(dyn->d_un.d_ptr));
    if (dyn->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const Elf64_Sym*>(at);
    if (dyn->d_tag == DT_STRTAB) strtab = at;
    if (dyn->d_tag == DT_HASH) hash = reinterpret_cast<const uint32_t*>(at);
  }
  if (!symtab || !strtab || !hash) return nullptr;
  for (uint32_t i = 0, n = hash[1]; i < n; ++i) {  // hash[1]: the number of symbols
    const Elf64_Sym& sym = symtab[i];
    if (ELF64_ST_TYPE(sym.st_info) != STT_FUNC || sym.st_shndx == SHN_UNDEF) continue;
    const char* name = strtab + sym.st_name;
    size_t k = 0;  // compared by hand: the compiler turns strncmp with a literal into strcmp
    while (k < sizeof kName && name[k] == kName[k] && kName[k]) ++k;
    if (k < sizeof kName && name[k] == 0 && kName[k] == 0)
      return reinterpret_cast<ClockFn>(bias + static_cast<intptr_t>(sym.st_value));
  }
#endif
  return nullptr;
}

uint64_t coarse_ns() {
  timespec ts;
  if (!g_vdso_clock || g_vdso_clock(CLOCK_MONOTONIC_COARSE, &ts) != 0) clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ns_of(ts);
}

uint64_t g_mono0 = 0;
constinit bool g_precise_clock = false;  // fixed at load, from NUMA_TRACE's clock=
constinit bool g_careful_names = false;  // under valgrind: see load_name()

// The event clock: the kernel's coarse monotonic clock (vDSO, a few ns,
// the resolution of a scheduler tick) unless NUMA_TRACE asked for clock=tsc
// (RDTSC per event: 11 ns on AMD EPYC guests, more than the rest of a
// resolve). Events are ordered by seq, never by time, so the coarse clock
// costs only resolution.
uint64_t ticks() {
  if (!g_precise_clock) return coarse_ns();
#if defined(__x86_64__)
  return __rdtsc();
#else
  return mono_ns();
#endif
}

// `clear`: zero the tables first (a forked child's copy holds the
// parent's). At load the recorder is fresh .bss, already zero: clearing it
// would touch its 700 KiB, page by page, in every process started with
// libnumatrace, most of which never record an event.
void reset_recorder(bool clear) {
  Recorder& r = fr();
  if (clear) std::memset(&r, 0, sizeof r);
  r.magic = NT_FR_MAGIC;
  r.version = NT_FR_VERSION;
  r.size = sizeof(nt_flight_recorder);
  r.pid = static_cast<uint32_t>(getpid());
  r.strings_used = 1;  // offset 0 is ""
  r.ns_per_tsc = 1.0;
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  r.start_realtime_ns = ns_of(ts);
  g_mono0 = mono_ns();
  r.tsc0 = stamp().tsc;
}

void atfork_child() {
  // The child starts clean: no inherited events, mappings, threads or
  // sinks (their descriptors belong to the parent's trace).
  g_epoch.fetch_add(1, std::memory_order_relaxed);
  g_threads.store(0, std::memory_order_relaxed);
  g_table_lock.clear();
  tables_changed();
  sinks_after_fork_child();
  reset_recorder(true);
}

// Copies `s` into the string pool; returns its offset, 0 when it is full.
uint32_t intern(const char* s) {
  if (!s) return 0;
  Recorder& r = fr();
  size_t n = std::strlen(s) + 1;
  uint32_t at = __atomic_fetch_add(&r.strings_used, static_cast<uint32_t>(n), __ATOMIC_RELAXED);
  if (at + n > NT_FR_STRINGS) {
    r.counters.dropped_strings++;
    return 0;
  }
  std::memcpy(r.strings + at, s, n);
  __atomic_signal_fence(__ATOMIC_SEQ_CST);
  return at;
}

// Reads a small sysfs file into buf (NUL-terminated); false when unreadable.
bool read_small(const char* path, char* buf, size_t size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, size - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = 0;
  return true;
}

// Fills g_cpu_node from /sys/devices/system/node/node<N>/cpulist; false
// when sysfs does not say (every CPU then stays on node -1).
bool load_cpu_nodes() {
  for (auto& n : g_cpu_node) n = -1;
  char buf[4096];
  if (!read_small("/sys/devices/system/node/possible", buf, sizeof buf)) return false;
  long last_node = 0;
  for (const char* p = buf; *p;) {  // "0-1" or "0,2-3": the highest number
    char* end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    if (v > last_node) last_node = v;
    p = *end ? end + 1 : end;
  }
  bool any = false;
  for (long node = 0; node <= last_node && node < 1024; ++node) {
    char path[64] = "/sys/devices/system/node/node";
    rules::Buf b(path + std::strlen(path), sizeof path - std::strlen(path));
    b.i(node).s("/cpulist");
    if (!read_small(path, buf, sizeof buf)) continue;
    for (const char* p = buf; *p && *p != '\n';) {  // "0-3,8-11"
      char* end;
      long lo = strtol(p, &end, 10), hi = lo;
      if (end == p) break;
      if (*end == '-') hi = strtol(end + 1, &end, 10);
      for (long c = lo; c <= hi && c < kMaxCpus; ++c)
        if (c >= 0) g_cpu_node[c] = static_cast<int16_t>(node);
      any = true;
      p = *end == ',' ? end + 1 : end;
    }
  }
  return any;
}

// The calling thread's CPU from its rseq area (-1: none registered).
inline int32_t rseq_cpu() {
  int32_t cpu;
  std::memcpy(&cpu, static_cast<const char*>(__builtin_thread_pointer()) + __rseq_offset + kRseqCpuId, sizeof cpu);
  return cpu;
}

bool rseq_usable() {
  if (&__rseq_size == nullptr || &__rseq_offset == nullptr || __rseq_size < kRseqCpuId + 4) return false;
  return rseq_cpu() >= 0;
}

// Valgrind's CPUID says RDTSCP and RDPID exist but it cannot run them
// (SIGILL); its preloads name it in LD_PRELOAD.
bool under_valgrind() {
  const char* pre = getenv("LD_PRELOAD");
  return pre && std::strstr(pre, "vgpreload");
}

// The CPU and node for sources other than TSC_AUX.
Stamp with_cpu(uint64_t tsc) {
  if (g_cpu_source == CpuSource::rseq) {
    const int32_t cpu = rseq_cpu();
    if (cpu >= 0 && cpu < kMaxCpus) return {tsc, static_cast<int16_t>(cpu), g_cpu_node[cpu]};
    // A thread made without glibc (raw clone) has no rseq area: getcpu.
  }
  unsigned cpu = 0, node = 0;
  if (g_cpu_source == CpuSource::none || getcpu(&cpu, &node) != 0) return {tsc, -1, -1};
  return {tsc, static_cast<int16_t>(cpu), static_cast<int16_t>(node)};
}

// The cheapest source of the CPU and node this machine offers, or the one
// NUMA_TRACE's cpu= asked for when the machine has it. RDPID and RDTSCP
// read TSC_AUX, where Linux keeps (node << 12) | cpu; without them (AMD
// EPYC guests, valgrind) the CPU comes from glibc's rseq area and the node
// from sysfs; the last resort is getcpu(2), which the vDSO serves.
CpuSource choose_cpu_source(CpuSource wanted) {
  bool rdpid = false, rdtscp = false;
#if defined(__x86_64__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!under_valgrind()) {
    rdtscp = __get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27));
    rdpid = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22));
  }
#endif
  // The sysfs table is read only when rseq is the source: a process that
  // has RDPID pays nothing for it at start.
  auto have = [&](CpuSource s) {
    switch (s) {
      case CpuSource::rdpid: return rdpid;
      case CpuSource::rdtscp: return rdtscp;
      case CpuSource::rseq: return rseq_usable() && load_cpu_nodes();
      case CpuSource::getcpu: return true;
      default: return false;
    }
  };
  if (wanted != CpuSource::none) {
    if (have(wanted)) return wanted;
    static const char msg[] = "numa-trace: NUMA_TRACE cpu= names a source this machine lacks; choosing one\n";
    write_stderr(msg, sizeof msg - 1);
  }
  for (CpuSource s : {CpuSource::rdpid, CpuSource::rseq, CpuSource::rdtscp})
    if (have(s)) return s;
  return CpuSource::getcpu;
}

__attribute__((constructor)) void init() {
  if (const char* spec = getenv("NUMA_TRACE")) {
    if (parse_settings(spec, g_settings) != 0) {
      static const char msg[] =
          "numa-trace: NUMA_TRACE has an unknown word or a path too long; tracing with defaults\n";
      write_stderr(msg, sizeof msg - 1);
      g_settings = Settings{};
    }
  }
  g_cpu_source = choose_cpu_source(g_settings.cpu_source);
  g_precise_clock = g_settings.precise_clock;
  g_careful_names = under_valgrind();
  if (!g_careful_names) g_vdso_clock = find_vdso_clock();
  reset_recorder(false);
  pthread_atfork(nullptr, nullptr, atfork_child);
  install_crash_handlers();
  g_ready.store(true, std::memory_order_release);
  defer_sinks();
}

__attribute__((destructor)) void fini() {
  if (!g_ready.load(std::memory_order_acquire)) return;
  Guard g;
  if (g.entered) {
    // Mappings still live at exit (NT007), reported once each.
    lock_tables();
    Recorder& r = fr();
    for (uint32_t i = 0, n = rules::mapping_count(r); i < n; ++i) {
      nt_fr_finding f;
      if (rules::check_exit(r, static_cast<int>(i), r.head, f)) raise_finding(f);
    }
    unlock_tables();
  }
  refresh_clock();
  stop_sinks();
}

}  // namespace

Recorder& fr() {
  return numatrace_flight_recorder;
}

void lock_tables() {
  while (g_table_lock.test_and_set(std::memory_order_acquire)) sched_yield();
}
void unlock_tables() {
  tables_changed();
  g_table_lock.clear(std::memory_order_release);
}
void tables_changed() {
  g_table_epoch.fetch_add(1, std::memory_order_release);
}

Guard::Guard() : entered(!t_state.busy) {
  if (entered)
    t_state.busy = true;
  else
    __atomic_fetch_add(&fr().counters.reentered, 1, __ATOMIC_RELAXED);
}
Guard::~Guard() {
  if (entered) t_state.busy = false;
}

Stamp stamp() {
#if defined(__x86_64__)
  switch (g_cpu_source) {
    case CpuSource::rdpid: {
      // RDPID reads TSC_AUX alone, much cheaper than RDTSCP.
      uint64_t aux;
      asm volatile("rdpid %0" : "=r"(aux));
      return {ticks(), static_cast<int16_t>(aux & 0xfff), static_cast<int16_t>(aux >> 12)};
    }
    case CpuSource::rdtscp: {
      unsigned aux;
      uint64_t tsc = __rdtscp(&aux);
      return {g_precise_clock ? tsc : coarse_ns(), static_cast<int16_t>(aux & 0xfff), static_cast<int16_t>(aux >> 12)};
    }
    default: break;
  }
#endif
  return with_cpu(ticks());
}

CpuSource cpu_source() {
  return g_cpu_source;
}

bool clock_counts_ns() {
#if defined(__x86_64__)
  return !g_precise_clock;
#else
  return true;  // clock=tsc is CLOCK_MONOTONIC there
#endif
}

void refresh_clock() {
  Recorder& r = fr();
  __atomic_store_n(&r.counters.events, __atomic_load_n(&r.head, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
  if (!g_precise_clock) return;  // the coarse clock counts nanoseconds: ns_per_tsc stays 1
  uint64_t dt = mono_ns() - g_mono0, dtsc = stamp().tsc - r.tsc0;
  if (dtsc > 0 && dt > 1000000) {
    double v = static_cast<double>(dt) / static_cast<double>(dtsc);
    __atomic_store(&r.ns_per_tsc, &v, __ATOMIC_RELAXED);
  }
}

ThreadInfo thread_info() {
  uint32_t epoch = g_epoch.load(std::memory_order_relaxed);
  if (__builtin_expect(t_state.epoch == epoch, 1)) return {t_state.index, t_state.tid};
  // First event of this thread (or first after fork): register it.
  t_state.epoch = epoch;
  t_state.tid = static_cast<uint32_t>(syscall(SYS_gettid));
  uint32_t i = g_threads.fetch_add(1, std::memory_order_relaxed);
  if (i < NT_FR_MAX_THREADS) {
    t_state.index = static_cast<int>(i);
    nt_fr_thread& t = fr().threads[i];
    t.tid = t_state.tid;
  } else {
    t_state.index = -1;
  }
  ensure_altstack();
  return {t_state.index, t_state.tid};
}

// Events are built in a per-thread staging copy and published into the
// ring word by word with release stores between the seq = NT_FR_SEQ_WRITING
// and seq = n + 1
// stores; readers use acquire loads. A reader never takes a half-written
// event for a whole one, and the race is a defined one that
// ThreadSanitizer understands (it does not model fences). On x86-64 release
// stores and acquire loads are plain moves.
namespace {
__attribute__((tls_model("initial-exec"))) thread_local nt_fr_event t_staging;
using Word = uint64_t __attribute__((may_alias));
constexpr int kWords = sizeof(nt_fr_event) / sizeof(uint64_t);
}  // namespace

// Claims the next seq and fills the fields every event has; the caller
// fills the rest (begin_event() sets defaults for them first).
nt_fr_event* claim_event(uint16_t type, uint64_t& seq, int& thread_index, nt_fr_event* into) {
  // Never from the crash handler: opening files and starting the drainer
  // are not async-signal-safe (a crash before any event has nothing to say).
  if (__builtin_expect(g_sinks_pending.load(std::memory_order_relaxed), 0) && type != NT_EV_CRASH)
    start_pending_sinks();
  Recorder& r = fr();
  ThreadInfo ti = thread_info();
  if (ti.index < 0) __atomic_fetch_add(&r.counters.dropped_threads, 1, __ATOMIC_RELAXED);
  Stamp st = stamp();
  t_block.end = 0;  // this thread's later resolves come after this event
  uint64_t n = __atomic_fetch_add(&r.head, 1, __ATOMIC_RELAXED);
  seq = n + 1;
  __atomic_store_n(&r.ring[n & (NT_FR_RING - 1)].seq, NT_FR_SEQ_WRITING, __ATOMIC_RELAXED);
  nt_fr_event* e = into ? into : &t_staging;
  e->seq = seq;
  e->tsc = st.tsc;
  e->type = type;
  e->flags = 0;
  e->tid = ti.tid;
  e->cpu = st.cpu;
  e->node = st.node;
  e->mapping = -1;
  e->page_node = -1;
  thread_index = ti.index;
  return e;
}

nt_fr_event* begin_event(uint16_t type, uint64_t& seq, nt_fr_event* into) {
  int ti;
  nt_fr_event* e = claim_event(type, seq, ti, into);
  e->slot = -1;
  e->file_idx = -1;
  e->a = e->b = e->c = e->d = 0;
  e->name[0] = 0;
  // The loader's next call ends this thread's in-flight resolve; what the
  // recorder adds about that resolve (its finding, a crash) does not.
  if (ti >= 0 && type != NT_EV_FINDING && type != NT_EV_CRASH && type != NT_EV_PLACEMENT)
    __atomic_store_n(&fr().threads[ti].in_flight, 0, __ATOMIC_RELAXED);
  return e;
}

void publish(nt_fr_event* e, uint64_t seq) {
  nt_fr_event& slot = fr().ring[(seq - 1) & (NT_FR_RING - 1)];
  const Word* src = reinterpret_cast<const Word*>(e);
  Word* dst = reinterpret_cast<Word*>(&slot);
  for (int i = 1; i < kWords; ++i) __atomic_store_n(&dst[i], src[i], __ATOMIC_RELEASE);
  __atomic_store_n(&slot.seq, seq, __ATOMIC_RELEASE);
  if ((seq & 255) == 0) wake_drainer();
}

bool read_event(const nt_fr_event& slot, uint64_t want, nt_fr_event& out, uint64_t& seen) {
  seen = __atomic_load_n(&slot.seq, __ATOMIC_ACQUIRE);
  if (seen != want) return false;
  const Word* src = reinterpret_cast<const Word*>(&slot);
  Word* dst = reinterpret_cast<Word*>(&out);
  for (int i = 1; i < kWords; ++i) dst[i] = __atomic_load_n(&src[i], __ATOMIC_ACQUIRE);
  out.seq = want;
  seen = __atomic_load_n(&slot.seq, __ATOMIC_RELAXED);
  return seen == want;
}

void raise_finding(const nt_fr_finding& f) {
  Recorder& r = fr();
  uint32_t k = __atomic_fetch_add(&r.n_findings_total, 1, __ATOMIC_RELAXED);
  r.findings[k % NT_FR_MAX_FINDINGS] = f;
  __atomic_fetch_add(&r.counters.findings, 1, __ATOMIC_RELAXED);
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_FINDING, seq);
  e->flags = f.code;
  e->slot = f.slot;
  e->file_idx = f.file_idx;
  e->a = f.offset;
  e->b = f.address;
  e->c = static_cast<uint64_t>(static_cast<int64_t>(f.related_slot));
  e->d = k;
  std::memcpy(e->name, f.name, NT_FR_NAME);
  publish(e, seq);
  // On stderr, the first kPrintedPerCode findings of each code; the rest
  // are counted (and in the sinks), so a loop of bad resolves cannot flood
  // the terminal.
  constexpr uint32_t kPrintedPerCode = 10;
  static uint32_t printed[rules::kMaxCode + 1];
  uint32_t nth = __atomic_fetch_add(&printed[f.code <= rules::kMaxCode ? f.code : 0], 1, __ATOMIC_RELAXED);
  if (!g_settings.quiet && nth == kPrintedPerCode) {
    char line[160];
    rules::Buf b(line, sizeof line - 1);
    b.s("numa-trace: further ").s(rules::code_info(f.code).id).s(" findings are counted, not printed\n");
    write_stderr(line, b.size());
  }
  if (!g_settings.quiet && nth < kPrintedPerCode) {
    char line[768];
    rules::Buf b(line, sizeof line);
    b.s("numa-trace: ");
    size_t head = b.size();
    rules::format_finding(r, f, line + head, sizeof line - head - 1);
    size_t n = std::strlen(line);
    line[n++] = '\n';
    write_stderr(line, n);
  }
  if (g_settings.strict && f.severity == rules::kError) {
    static const char msg[] = "numa-trace: strict mode: stopping the program at this finding\n";
    write_stderr(msg, sizeof msg - 1);
    drain(false);
    abort();
  }
}

}  // namespace numatrace::rec

// ------------------------------------------------------------ entry points

using namespace numatrace;
using namespace numatrace::rec;

#define NT_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
// A loader's own NUMATRACE_MODEL_BEGIN was seen: the preload interposer,
// which may have begun the model itself on the first read of a split (a
// patched llama.cpp reads its headers before its hook runs), then steps
// aside so that nothing is recorded twice.
std::atomic<bool> g_hooked_model{false};
}  // namespace

NT_EXPORT void numatrace_model_begin(const char* path, uint32_t n_files) {
  g_hooked_model.store(true, std::memory_order_relaxed);
  numatrace_interposed_model_begin(path, n_files);
}

NT_EXPORT int numatrace_hooks_active(void) {
  return g_hooked_model.load(std::memory_order_relaxed);
}

NT_EXPORT void numatrace_interposed_model_begin(const char* path, uint32_t n_files) {
  Guard g;
  if (!g.entered) return;
  Recorder& r = fr();
  r.n_files = n_files;
  r.model_path = intern(path);
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_MODEL_BEGIN, seq);
  e->a = n_files;
  e->d = r.model_path;
  rules::copy_name(e->name, path);
  publish(e, seq);
}

NT_EXPORT void numatrace_model_end(void) {
  Guard g;
  if (!g.entered) return;
  lock_tables();
  sample_all_live();
  if (g_settings.verify) verify_data();
  unlock_tables();
  refresh_clock();
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_MODEL_END, seq);
  publish(e, seq);
  wake_drainer();
}

NT_EXPORT void numatrace_file_open(uint32_t file_idx, const char* path, uint64_t size) {
  Guard g;
  if (!g.entered) return;
  Recorder& r = fr();
  uint32_t at = intern(path);
  if (file_idx < NT_FR_MAX_FILES) {
    r.files[file_idx].path = at;
    r.files[file_idx].size = size;
    __atomic_store_n(&r.files[file_idx].opened, 1, __ATOMIC_RELEASE);
    tables_changed();  // a file's size bounds its resolves
  } else {
    r.counters.dropped_records++;
  }
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_FILE_OPEN, seq);
  e->file_idx = static_cast<int32_t>(file_idx);
  e->a = size;
  e->d = at;
  rules::copy_name(e->name, path);
  publish(e, seq);
}

NT_EXPORT void numatrace_mapping_create(int32_t slot, uint32_t kind, const void* base, uint64_t length, int32_t node,
                                        uint32_t flags, const void* requested, const numatrace_extent* extents,
                                        uint32_t n_extents) {
  Guard g;
  if (!g.entered) return;
  // Model memory is left out of core dumps, so a core stays small whatever
  // the model's size; the recorder describes what was there.
  if (!g_settings.keep_dump && base && length) {
    uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    uintptr_t lo = reinterpret_cast<uintptr_t>(base) & ~(page - 1);
    uintptr_t hi = (reinterpret_cast<uintptr_t>(base) + length + page - 1) & ~(page - 1);
    if (madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_DONTDUMP) == 0) flags |= NT_MAP_DONTDUMP;
  }
  rules::ExtentArg ex[NT_FR_MAX_FILES];
  uint32_t n = n_extents < NT_FR_MAX_FILES ? n_extents : NT_FR_MAX_FILES;
  for (uint32_t k = 0; k < n; ++k) ex[k] = {extents[k].file_idx, extents[k].offset, extents[k].length};
  rules::CreateArgs a;
  a.slot = slot;
  a.kind = static_cast<uint16_t>(kind);
  a.base = reinterpret_cast<uint64_t>(base);
  a.length = length;
  a.requested = reinterpret_cast<uint64_t>(requested);
  a.node = node;
  a.flags = flags;
  a.extents = ex;
  a.n_extents = n;

  lock_tables();
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_CREATE, seq);
  nt_fr_finding f;
  int index = -1;
  int found = rules::apply_create(fr(), a, seq, f, index);
  e->slot = slot;
  e->node = static_cast<int16_t>(node);
  e->mapping = static_cast<int16_t>(index);
  e->a = a.base;
  e->b = length;
  e->c = a.requested;
  e->d = format::create_word(kind, flags);
  publish(e, seq);
  for (uint32_t k = 0; k < n; ++k) {
    uint64_t s2;
    nt_fr_event* x = begin_event(NT_EV_EXTENT, s2);
    x->slot = slot;
    x->mapping = static_cast<int16_t>(index);
    x->file_idx = static_cast<int32_t>(ex[k].file_idx);
    x->a = ex[k].offset;
    x->b = ex[k].length;
    publish(x, s2);
  }
  unlock_tables();
  if (found) raise_finding(f);
}

namespace {

// Each thread keeps what its last resolve's check established: while no
// table has changed since (the table epoch), a resolve through the same
// slot, file and node, inside the same mapping, is checked by arithmetic
// alone. Filled only where that arithmetic is all check_resolve would do:
// a live mapping with no holes that no other live mapping of its slot
// overlaps (so it is the one check_resolve would find for any address in
// it).
struct CheckCache {
  uint32_t epoch = 0;  // g_table_epoch when filled; 0 never is
  int32_t slot = 0, file = 0;
  int16_t node = 0, mapping = -1;
  uint64_t lo = 0, length = 0;  // the mapping's range
  uint64_t base = 0;            // the address of the file's offset 0 in it
  uint64_t limit = 0;           // the file's bytes reachable through it
};
__attribute__((tls_model("initial-exec"))) thread_local CheckCache t_check;

void fill_check_cache(const Recorder& r, uint32_t epoch, int32_t slot, int32_t file, int16_t node, int mi) {
  const nt_fr_mapping& m = r.mappings[mi];
  for (uint32_t h = 0, n = __atomic_load_n(&r.n_holes, __ATOMIC_ACQUIRE); h < n && h < NT_FR_MAX_HOLES; ++h)
    if (r.holes[h].mapping == mi) return;
  for (uint32_t i = 0, n = rules::mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& o = r.mappings[i];
    if (static_cast<int>(i) != mi && rules::live(o) && o.slot == slot && o.base < m.base + m.length &&
        m.base < o.base + o.length)
      return;
  }
  CheckCache c;
  if (rules::holds_files(m)) {
    const nt_fr_extent* e = rules::find_extent(r, mi, file);
    if (!e) return;
    c.base = m.base + e->offset;
    c.limit = e->length;
  } else {
    c.base = m.base;
    c.limit = m.length;
    if (file >= 0 && file < NT_FR_MAX_FILES && r.files[file].opened && r.files[file].size < c.limit)
      c.limit = r.files[file].size;
  }
  c.epoch = epoch;
  c.slot = slot;
  c.file = file;
  c.node = node;
  c.mapping = static_cast<int16_t>(mi);
  c.lo = m.base;
  c.length = m.length;
  t_check = c;
}

static_assert(offsetof(nt_fr_event, type) == 16 && offsetof(nt_fr_event, tid) == 20 &&
                  offsetof(nt_fr_event, slot) == 24 && offsetof(nt_fr_event, file_idx) == 28 &&
                  offsetof(nt_fr_event, cpu) == 32 && offsetof(nt_fr_event, page_node) == 38 &&
                  offsetof(nt_fr_event, a) == 40 && offsetof(nt_fr_event, name) == 72,
              "the words numatrace_resolve writes");

// thread_info() and stamp() for the resolve path: their common case inline.
__attribute__((always_inline)) inline ThreadInfo thread_info_inline() {
  if (__builtin_expect(t_state.epoch == g_epoch.load(std::memory_order_relaxed), 1))
    return {t_state.index, t_state.tid};
  return thread_info();
}
__attribute__((always_inline)) inline void stamp_inline(uint64_t& time, int16_t& cpu, int16_t& node) {
  if (g_cpu_source == CpuSource::rseq && !g_precise_clock) {
    const int32_t c = rseq_cpu();
    if (__builtin_expect(c >= 0 && c < kMaxCpus, 1)) {
      cpu = static_cast<int16_t>(c);
      node = g_cpu_node[c];
      time = coarse_ns();
      return;
    }
  }
  const Stamp st = stamp();
  time = st.tsc;
  cpu = st.cpu;
  node = st.node;
}

// Resolves take their sequence numbers from a block of kSeqBlock the
// thread claimed with one fetch_add, not from a shared counter each. Order
// is exact within a thread; across threads it is exact around every table
// change (a create, unmap or destroy, a file open, any other event of the
// thread: each ends the block, so later resolves have larger numbers) and
// otherwise that of the blocks. An entry of a block not written yet still
// holds an older seq; the drainer passes such entries when the thread has
// been idle (and takes them late if they are written after all), and a
// thread never writes into a block the drainer has already passed.

__attribute__((always_inline)) inline uint64_t next_resolve_position(Recorder& r, uint32_t table_epoch) {
  SeqBlock& b = t_block;
  if (__builtin_expect(b.next < b.end && b.table_epoch == table_epoch && b.proc_epoch == t_state.epoch &&
                           b.next >= g_drained.load(std::memory_order_relaxed),
                       1))
    return b.next++;
  const uint64_t n = __atomic_fetch_add(&r.head, kSeqBlock, __ATOMIC_RELAXED);
  b.next = n + 1;
  b.end = n + kSeqBlock;
  b.table_epoch = table_epoch;
  b.proc_epoch = t_state.epoch;
  return n;
}

// A tensor name (at most NT_FR_NAME - 1 bytes and its NUL) taken in four
// 16-byte loads when its first 64 bytes lie in one page, so that reading
// past its end cannot fault; the bytes after the end are zeroed, so
// nothing of the loader's memory beyond the name is kept. Otherwise, and
// under valgrind (whose memcheck would report the bytes past a heap
// block's end), load_name() says no and the name is copied with strnlen
// and memcpy. Inline, it is a third of their cost.
struct Name {
#if defined(__x86_64__)
  __m128i v[4];
#endif
};
__attribute__((always_inline)) inline bool load_name(const char* src, Name& out) {
#if defined(__x86_64__)
  if (!src || g_careful_names || (reinterpret_cast<uintptr_t>(src) & 4095) > 4096 - 64) return false;
  const __m128i zero = _mm_setzero_si128();
  uint64_t ends = 1ull << (NT_FR_NAME - 1);  // a name this long is cut here
  for (int k = 0; k < 4; ++k) {
    out.v[k] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src) + k);
    ends |= uint64_t{static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(out.v[k], zero)))} << (16 * k);
  }
  const __m128i len = _mm_set1_epi8(static_cast<char>(__builtin_ctzll(ends)));
  const __m128i index = _mm_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  for (int k = 0; k < 4; ++k)
    out.v[k] =
        _mm_and_si128(out.v[k], _mm_cmpgt_epi8(len, _mm_add_epi8(index, _mm_set1_epi8(static_cast<char>(16 * k)))));
  return true;
#else
  (void)src;
  (void)out;
  return false;
#endif
}
__attribute__((always_inline)) inline void store_name(char* dst, const Name& n) {
#if defined(__x86_64__)
  static_assert(NT_FR_NAME == 56, "three 16-byte stores and one 8-byte store");
  for (int k = 0; k < 3; ++k) _mm_storeu_si128(reinterpret_cast<__m128i*>(dst) + k, n.v[k]);
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst + 48), n.v[3]);
#else
  (void)dst;
  (void)n;
#endif
}

// Stores one 64-bit word of a ring entry (see publish()).
// Release stores, as publish() makes (plain moves on x86-64): each orders
// the entry's seq = NT_FR_SEQ_WRITING before itself.
inline void put(Word* w, uint64_t v) {
  __atomic_store_n(w, v, __ATOMIC_RELEASE);
}

}  // namespace

// The hot path, written straight into the ring entry (no staging copy):
// seq = NT_FR_SEQ_WRITING, the fields, then seq = n + 1, as publish() does.
NT_EXPORT void numatrace_resolve(int32_t slot, uint32_t file_idx, uint64_t offset, uint64_t size, const void* address,
                                 const char* tensor_name) {
  Guard g;
  if (!g.entered) return;
  if (__builtin_expect(g_sinks_pending.load(std::memory_order_relaxed), 0)) start_pending_sinks();
  Recorder& r = fr();
  const ThreadInfo ti = thread_info_inline();
  if (ti.index < 0) __atomic_fetch_add(&r.counters.dropped_threads, 1, __ATOMIC_RELAXED);
  uint64_t time;
  int16_t cpu, node;
  stamp_inline(time, cpu, node);
  const uint32_t epoch = g_table_epoch.load(std::memory_order_acquire);
  const uint64_t n = next_resolve_position(r, epoch), seq = n + 1;
  const int32_t file = static_cast<int32_t>(file_idx);
  const uint64_t addr = reinterpret_cast<uint64_t>(address);

  nt_fr_event& ev = r.ring[n & (NT_FR_RING - 1)];
  Word* w = reinterpret_cast<Word*>(&ev);
  put(&w[0], NT_FR_SEQ_WRITING);
  put(&w[1], time);
  put(&w[2], NT_EV_RESOLVE | uint64_t{ti.tid} << 32);
  put(&w[3], static_cast<uint32_t>(slot) | uint64_t{static_cast<uint32_t>(file)} << 32);
  put(&w[5], offset);
  put(&w[6], size);
  put(&w[7], addr);
  put(&w[8], 0);
#if defined(__SANITIZE_THREAD__)
  const size_t name_len = tensor_name ? strnlen(tensor_name, NT_FR_NAME - 1) : 0;
  char name[NT_FR_NAME] = {};
  std::memcpy(name, tensor_name, name_len);
  for (int i = 0; i < NT_FR_NAME / 8; ++i) {
    uint64_t v;
    std::memcpy(&v, name + 8 * i, 8);
    put(&w[9 + i], v);
  }
#else
  // Plain stores, after a fence that orders the seq store before them: a reader
  // that sees them re-reads seq and drops the entry (publish()'s seqlock).
  std::atomic_thread_fence(std::memory_order_release);
  Name fast;
  const bool have_fast = load_name(tensor_name, fast);
  size_t name_len = 0;
  if (have_fast) {
    store_name(ev.name, fast);
  } else {
    name_len = tensor_name ? strnlen(tensor_name, NT_FR_NAME - 1) : 0;
    if (name_len) std::memcpy(ev.name, tensor_name, name_len);
    ev.name[name_len] = 0;
  }
#endif

  // The resolve in flight: what a crash in the next instructions was doing.
  if (ti.index >= 0) {
    nt_fr_thread& t = r.threads[ti.index];
    uint32_t gen = t.gen;
    __atomic_store_n(&t.gen, gen + 1, __ATOMIC_RELAXED);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);  // the crash handler sees gen odd first
    t.slot = slot;
    t.file_idx = file;
    t.cpu = cpu;
    t.node = node;
    t.offset = offset;
    t.size = size;
    t.address = addr;
    t.seq = seq;
#if defined(__SANITIZE_THREAD__)
    std::memcpy(t.name, name, NT_FR_NAME);
#else
    if (have_fast) {
      store_name(t.name, fast);
    } else {
      if (name_len) std::memcpy(t.name, tensor_name, name_len);
      t.name[name_len] = 0;
    }
#endif
    __atomic_store_n(&t.in_flight, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&t.gen, gen + 2, __ATOMIC_RELEASE);
  }

  // Checked before it is published, so that the event names the mapping it
  // went through (the drainer counts remote reads by it).
  int through;
  int found = 0;
  nt_fr_finding f;
  const CheckCache& c = t_check;
  if (__builtin_expect(c.epoch == epoch && c.slot == slot && c.file == file && c.node == node &&
                           addr - c.lo < c.length && offset <= c.limit && size <= c.limit - offset &&
                           addr == c.base + offset,
                       1)) {
    through = c.mapping;
  } else {
    nt_fr_event copy;
    std::memset(&copy, 0, sizeof copy);
    copy.seq = seq;
    copy.tsc = time;
    copy.type = NT_EV_RESOLVE;
    copy.tid = ti.tid;
    copy.slot = slot;
    copy.file_idx = file;
    copy.cpu = cpu;
    copy.node = node;
    copy.mapping = -1;
    copy.a = offset;
    copy.b = size;
    copy.c = addr;
    rules::copy_name(copy.name, tensor_name);
    through = -1;
    found = rules::check_resolve(r, copy, f, &through);
    if (!found && through >= 0) fill_check_cache(r, epoch, slot, file, node, through);
  }
  put(&w[4], static_cast<uint16_t>(cpu) | uint64_t{static_cast<uint16_t>(node)} << 16 |
                 uint64_t{static_cast<uint16_t>(through)} << 32 | uint64_t{0xffff} << 48);
  __atomic_store_n(&w[0], seq, __ATOMIC_RELEASE);
  if ((seq & 255) == 0) wake_drainer();
  if (__builtin_expect(found, 0)) raise_finding(f);
}

NT_EXPORT void numatrace_file_read(uint32_t file_idx, uint64_t offset, uint64_t length, const void* destination) {
  Guard g;
  if (!g.entered) return;
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_READ, seq);
  e->file_idx = static_cast<int32_t>(file_idx);
  e->a = offset;
  e->b = length;
  e->c = reinterpret_cast<uint64_t>(destination);  // its page's node: filled by the drainer, as for resolves
  publish(e, seq);
}

NT_EXPORT void numatrace_resolve_done(void) {
  if (!g_ready.load(std::memory_order_acquire)) return;
  ThreadInfo ti = thread_info();
  if (ti.index >= 0) __atomic_store_n(&fr().threads[ti.index].in_flight, 0, __ATOMIC_RELAXED);
}

NT_EXPORT void numatrace_unmap_fragment(int32_t slot, const void* address, uint64_t length) {
  Guard g;
  if (!g.entered) return;
  lock_tables();
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_UNMAP, seq);
  nt_fr_finding f;
  int index = -1;
  int found = rules::apply_unmap(fr(), slot, reinterpret_cast<uint64_t>(address), length, seq, f, index);
  e->slot = slot;
  e->mapping = static_cast<int16_t>(index);
  e->a = reinterpret_cast<uint64_t>(address);
  e->b = length;
  publish(e, seq);
  unlock_tables();
  if (found) raise_finding(f);
}

NT_EXPORT void numatrace_mapping_destroy(int32_t slot, const void* base) {
  Guard g;
  if (!g.entered) return;
  lock_tables();
  Recorder& r = fr();
  // Placement is sampled while the pages still exist.
  int live_index = rules::find_by_base(r, slot, reinterpret_cast<uint64_t>(base), true);
  if (live_index >= 0) sample_placement(live_index);
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_DESTROY, seq);
  nt_fr_finding f;
  int index = -1;
  int found = rules::apply_destroy(r, slot, reinterpret_cast<uint64_t>(base), seq, f, index);
  e->slot = slot;
  e->mapping = static_cast<int16_t>(index);
  e->a = reinterpret_cast<uint64_t>(base);
  publish(e, seq);
  unlock_tables();
  if (found) raise_finding(f);
}

NT_EXPORT void numatrace_mlock_grow(int32_t slot, const void* address, uint64_t size) {
  Guard g;
  if (!g.entered) return;
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_MLOCK_GROW, seq);
  e->slot = slot;
  e->a = reinterpret_cast<uint64_t>(address);
  e->b = size;
  publish(e, seq);
  nt_fr_finding f;
  if (rules::check_mlock_grow(fr(), slot, e->a, size, seq, f)) raise_finding(f);
}

NT_EXPORT void numatrace_unified_test(int answer) {
  Guard g;
  if (!g.entered) return;
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_UNIFIED_TEST, seq);
  e->a = answer ? 1 : 0;
  publish(e, seq);
  nt_fr_finding f;
  if (rules::check_unified_test(fr(), answer != 0, seq, f)) raise_finding(f);
}

NT_EXPORT void numatrace_sample_placement(void) {
  Guard g;
  if (!g.entered) return;
  lock_tables();
  sample_all_live();
  unlock_tables();
}

NT_EXPORT int numatrace_configure(const char* spec) {
  Guard g;
  if (!g.entered) return -1;
  Settings next;
  if (parse_settings(spec ? spec : "", next) != 0) return -1;
  stop_sinks();
  g_sinks_pending.store(false);
  g_settings = next;
  start_sinks(false);
  return 0;
}

NT_EXPORT void numatrace_flush(void) {
  Guard g;
  if (!g.entered) return;
  refresh_clock();
  while (!drain(false)) sched_yield();
}

NT_EXPORT const char* numatrace_cpu_source(void) {
  return numatrace::rec::kCpuSourceNames[static_cast<uint8_t>(numatrace::rec::cpu_source())];
}
