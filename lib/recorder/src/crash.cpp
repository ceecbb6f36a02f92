// Crash capture: SIGSEGV, SIGBUS, SIGFPE, SIGILL and SIGABRT handlers on an
// alternate stack. Async-signal-safe only: record the signal, fault address,
// thread and raw PCs (libunwind from the signal context) in the flight
// recorder, write one line to stderr, flush the sinks with write(2), then
// hand the signal on: to the handler the program installed (before or after
// ours: sigaction() and signal() are interposed to keep ours first), or to
// the default action, so the kernel still writes the core.
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "internal.h"

namespace numatrace::rec {

namespace {

constexpr int kSignals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
constexpr size_t kAltStack = size_t{256} * 1024;  // the crash path drains the ring to the sinks on it

using SigactionFn = int (*)(int, const struct sigaction*, struct sigaction*);
SigactionFn g_real_sigaction = nullptr;
struct sigaction g_next[NSIG];  // the program's handler for each of our signals
bool g_ours[NSIG];
constinit std::atomic<int> g_in_crash{0};
constinit std::atomic<bool> g_capture_done{false};
pthread_key_t g_stack_key;

const char* signal_name(int sig) {
  switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
  }
  return "signal";
}

int real_sigaction(int sig, const struct sigaction* act, struct sigaction* old) {
  if (g_real_sigaction) return g_real_sigaction(sig, act, old);
  return -1;
}

void free_altstack(void* p) {
  stack_t none{};
  none.ss_flags = SS_DISABLE;
  sigaltstack(&none, nullptr);
  munmap(p, kAltStack);
}

// A fault's own address is in si_addr only when the kernel raised it (si_code
// > 0) for a fault signal; for a signal sent with kill/tgkill/raise the same
// union holds the sender's pid, which is no address.
uint64_t fault_address_of(int sig, const siginfo_t* info) {
  if (!info || info->si_code <= 0) return 0;
  if (sig != SIGSEGV && sig != SIGBUS && sig != SIGILL && sig != SIGFPE) return 0;
  return reinterpret_cast<uint64_t>(info->si_addr);
}

// The signal, fault address, thread and raw PCs into the flight recorder's
// crash record (memory only: no event, no output).
void snapshot(int sig, siginfo_t* info, void* uc) {
  Recorder& r = fr();
  nt_fr_crash& c = r.crash;
  rules::begin_write(c.gen);
  c.signal = sig;
  c.si_code = info ? info->si_code : 0;
  c.tid = static_cast<uint32_t>(syscall(SYS_gettid));
  c.fault_address = fault_address_of(sig, info);
  c.seq = __atomic_load_n(&r.head, __ATOMIC_ACQUIRE);
  r.counters.events = c.seq;
  c.n_pcs = 0;
  unw_cursor_t cursor;
  if (uc && unw_init_local2(&cursor, static_cast<unw_context_t*>(uc), UNW_INIT_SIGNAL_FRAME) == 0) {
    do {
      unw_word_t ip = 0;
      if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || ip == 0) break;
      c.pcs[c.n_pcs++] = ip;
    } while (c.n_pcs < NT_FR_MAX_PCS && unw_step(&cursor) > 0);
  }
  rules::end_write(c.gen);
}

// A fault handed to the program's own handler, not yet known to be fatal:
// its snapshot is kept (a handler that re-raises, as node's does, makes the
// second entry a SI_TKILL without the fault address) and dropped again if
// the handler recovers.
constinit std::atomic<uint32_t> g_pending_tid{0};

// The crash is final (the default action follows): the event, one line on
// stderr, and the sinks drained.
// from_pending: the program ends inside its handler of the pending fault;
// its snapshot is the crash.
void capture(int sig, siginfo_t* info, void* uc, bool from_pending = false) {
  Recorder& r = fr();
  nt_fr_crash& c = r.crash;
  const uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
  // A re-raise of a fault the program's handler saw first: that snapshot
  // has the real fault; else this signal is the crash.
  const bool reraised = from_pending || ((!info || info->si_code <= 0) && g_pending_tid.load() == tid &&
                                         c.signal == sig && c.si_code > 0);
  if (!reraised) snapshot(sig, info, uc);
  g_pending_tid.store(0);

  // Its own staging event: the signal may have interrupted this thread
  // while it was building one.
  static nt_fr_event staging;
  uint64_t seq;
  nt_fr_event* e = begin_event(NT_EV_CRASH, seq, &staging);
  e->a = static_cast<uint64_t>(sig);
  e->b = c.fault_address;
  e->c = static_cast<uint64_t>(static_cast<int64_t>(c.si_code));
  publish(e, seq);

  // One line: the signal, and what this thread was resolving.
  char line[768];
  rules::Buf b(line, sizeof line - 2);
  b.s("numa-trace: ").s(signal_name(sig));
  if (c.si_code > 0 && sig != SIGABRT)
    b.s(" at fault address ").x(c.fault_address);
  else
    b.s(" (sent, not a fault)");
  b.s(" in thread ").u(c.tid);
  for (uint32_t i = 0; i < NT_FR_MAX_THREADS; ++i) {
    const nt_fr_thread& t = r.threads[i];
    if (t.tid != c.tid || !t.seq) continue;
    if (t.in_flight) {
      b.s(" while resolving '").sn(t.name, NT_FR_NAME).s("' (");
      rules::file_of(r, b, t.file_idx);
      b.s(", offset ").x(t.offset).s(") through slot ").i(t.slot);
      if (rules::find_live_in_slot(r, t.slot, t.address, t.node) < 0) b.s(", which is empty");
    } else {
      // Only the last resolve is known, and it had ended: not the cause.
      b.s("; last resolve by this thread (finished): '").sn(t.name, NT_FR_NAME).s("' (");
      rules::file_of(r, b, t.file_idx);
      b.s(", offset ").x(t.offset).s(")");
    }
    break;
  }
  // Said only when true: with RLIMIT_CORE 0 the kernel writes no core.
  rlimit core{};
  if (getrlimit(RLIMIT_CORE, &core) == 0 && core.rlim_cur == 0)
    b.s("; no core will be written (ulimit -c is 0), the trace has the crash record");
  else
    b.s("; the flight recorder is in the core (symbol numatrace_flight_recorder)");
  size_t n = b.size();
  line[n++] = '\n';
  write_stderr(line, n);
  drain_for_crash();
}

bool is_program_handler(const struct sigaction& next) {
  if (next.sa_flags & SA_SIGINFO) return next.sa_sigaction != nullptr;
  return next.sa_handler != SIG_DFL && next.sa_handler != SIG_IGN;
}

void handler(int sig, siginfo_t* info, void* uc) {
  int saved_errno = errno;
  const struct sigaction next = g_next[sig];
  if (is_program_handler(next)) {
    // The program may handle it (a recovering SIGSEGV handler, ASan's
    // report): no crash is said or recorded as an event unless it proves
    // fatal; only the snapshot is kept meanwhile.
    const uint32_t tid = static_cast<uint32_t>(syscall(SYS_gettid));
    bool mine = false;
    if (g_in_crash.load() == 0 && g_pending_tid.load() == 0) {
      Guard g;
      snapshot(sig, info, uc);
      g_pending_tid.store(tid);
      mine = true;
    }
    errno = saved_errno;
    if (next.sa_flags & SA_SIGINFO)
      next.sa_sigaction(sig, info, uc);
    else
      next.sa_handler(sig);
    // Back from the program's handler. If it reset the disposition or left
    // the signal pending (a re-raise to come), the snapshot stays for it;
    // otherwise the program recovered and there was no crash.
    if (mine && g_pending_tid.load() == tid) {
      sigset_t pending;
      sigpending(&pending);
      if (is_program_handler(g_next[sig]) && !sigismember(&pending, sig)) {
        rules::begin_write(fr().crash.gen);
        fr().crash.signal = 0;
        rules::end_write(fr().crash.gen);
        g_pending_tid.store(0);
      }
    }
    errno = saved_errno;
    return;
  }
  // A sent signal the program ignores does nothing: nothing to record.
  // (A fault cannot be ignored: the kernel forces the default action.)
  const bool ignored = !(next.sa_flags & SA_SIGINFO) && next.sa_handler == SIG_IGN;
  if (ignored && (!info || info->si_code <= 0)) {
    errno = saved_errno;
    return;
  }
  if (g_in_crash.fetch_add(1) == 0) {
    Guard g;
    capture(sig, info, uc);
    g_capture_done.store(true, std::memory_order_release);
  } else {
    // Another thread is capturing (several loader threads often fault on
    // the same empty slot): let it finish before this thread's default
    // action ends the process, at most one second.
    for (int i = 0; i < 1000 && !g_capture_done.load(std::memory_order_acquire); ++i) {
      timespec ms{0, 1000L * 1000};
      nanosleep(&ms, nullptr);
    }
  }
  // Default action: restore it. A fault re-executes the instruction on
  // return and dies with the real siginfo; a sent signal is sent again.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  real_sigaction(sig, &dfl, nullptr);
  if (!info || info->si_code <= 0 || sig == SIGABRT) syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
  errno = saved_errno;
}

}  // namespace

void finish_pending_crash() {
  if (g_pending_tid.load() == 0 || g_in_crash.fetch_add(1) != 0) return;
  Guard g;
  capture(fr().crash.signal, nullptr, nullptr, true);
  g_capture_done.store(true, std::memory_order_release);
}

void ensure_altstack() {
  stack_t cur{};
  if (sigaltstack(nullptr, &cur) != 0 || !(cur.ss_flags & SS_DISABLE)) return;
  void* p = mmap(nullptr, kAltStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return;
  stack_t st{};
  st.ss_sp = p;
  st.ss_size = kAltStack;
  if (sigaltstack(&st, nullptr) != 0) {
    munmap(p, kAltStack);
    return;
  }
  pthread_setspecific(g_stack_key, p);
}

// libc's own sigaction, whatever the load order, through glibc's exported
// alias __sigaction (nobody interposes it; `sigaction` may be ours). Not
// dlopen: the program (or ASan's runtime, from .preinit_array) may call our
// sigaction before any library is initialized, and a dlopen there runs
// initializers early, ours included, before libc has set up the
// environment (NUMA_TRACE then reads as unset and the program goes
// untraced). RTLD_NEXT would find nothing when libnumatrace was loaded
// after libc.
extern "C" int __sigaction(int, const struct sigaction*, struct sigaction*);
SigactionFn libc_sigaction() {
  return &__sigaction;
}

void install_crash_handlers() {
  g_real_sigaction = libc_sigaction();
  if (!g_real_sigaction) return;
  pthread_key_create(&g_stack_key, free_altstack);
  // Warm up libunwind here, not in the handler: its first use initializes
  // state that would otherwise be set up inside a signal handler.
  unw_set_caching_policy(unw_local_addr_space, UNW_CACHE_PER_THREAD);
  ensure_altstack();
  for (int sig : kSignals) {
    struct sigaction act {};
    act.sa_sigaction = handler;
    act.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&act.sa_mask);
    if (real_sigaction(sig, &act, &g_next[sig]) == 0) g_ours[sig] = true;
  }
}

}  // namespace numatrace::rec

// The race test (tests/tsan) compiles these sources under ThreadSanitizer,
// whose runtime interposes sigaction itself.
#ifndef NUMATRACE_NO_SIGACTION_INTERPOSER
using numatrace::rec::g_next;
using numatrace::rec::g_ours;

// The program's own handlers for our signals are kept as the next in the
// chain; ours stays installed. Other signals pass straight through.
extern "C" __attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction* act,
                                                                struct sigaction* old) {
  if (sig > 0 && sig < NSIG && g_ours[sig]) {
    if (old) *old = g_next[sig];
    if (act) g_next[sig] = *act;
    return 0;
  }
  if (!numatrace::rec::g_real_sigaction) numatrace::rec::g_real_sigaction = numatrace::rec::libc_sigaction();
  return numatrace::rec::real_sigaction(sig, act, old);
}

extern "C" __attribute__((visibility("default"))) sighandler_t signal(int sig, sighandler_t h) {
  struct sigaction act {
  }, old{};
  act.sa_handler = h;
  act.sa_flags = SA_RESTART;
  sigemptyset(&act.sa_mask);
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}
#endif  // NUMATRACE_NO_SIGACTION_INTERPOSER
