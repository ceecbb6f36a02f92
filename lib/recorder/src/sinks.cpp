// Sinks: the background drainer that copies the flight recorder's ring to a
// binary trace, JSON lines and/or stderr. The event path never waits for it:
// when the ring laps the drainer, the lost events are counted and a
// NT_REC_DROPPED record says so. The drain routine itself is
// async-signal-safe (fixed buffers, write(2)), so the crash handler can run
// it to get the last events out before the process dies.
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <iterator>

#include "numatrace/codec.h"
#include "numatrace/trace_format.h"
#include "sinks_internal.h"

namespace numatrace::rec {

namespace sink {

constinit Sink g_sinks[kMaxSinks];

const char* errno_name(int e) {
  switch (e) {
    case ENOSPC: return "No space left on device";
    case EPIPE: return "Broken pipe";
    case EACCES: return "Permission denied";
    case EEXIST: return "File exists (numa-trace never overwrites a trace)";
    case ENOENT: return "No such file or directory";
    case ELOOP: return "Is a symbolic link (refused)";
    case EDQUOT: return "Disk quota exceeded";
    case EIO: return "Input/output error";
    case EROFS: return "Read-only file system";
    case EISDIR: return "Is a directory";
    case EFBIG: return "File too large";
  }
  return "error";
}

void report_sink(const SinkSpec& spec, const char* what, int err) {
  char line[768];
  rules::Buf b(line, sizeof line - 1);
  b.s("numa-trace: trace sink ")
      .s(spec.kind == SinkKind::binary  ? "file:"
         : spec.kind == SinkKind::jsonl ? "jsonl:"
                                        : "");
  b.s(spec.path[0] ? spec.path : "stderr").s(": ").s(what).s(": ").s(errno_name(err)).s(" (errno ").i(err);
  b.s("); this sink is off, the flight recorder keeps recording\n");
  write_stderr(line, b.size());
}

bool write_all(int fd, const char* p, size_t n) {
  while (n) {
    ssize_t w = quiet_write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

void flush(int i) {
  Sink& s = g_sinks[i];
  if (s.failed || s.used == 0) {
    s.used = 0;
    return;
  }
  if (!write_all(s.fd, s.buf, s.used)) {
    int err = errno;
    s.failed = true;
    __atomic_fetch_add(&fr().counters.sink_errors, 1, __ATOMIC_RELAXED);
    report_sink(g_settings.sinks[i], "write failed", err);
  }
  s.used = 0;
}

void put(int i, const void* p, size_t n) {
  Sink& s = g_sinks[i];
  if (s.failed) return;
  if (s.used + n > sizeof s.buf) flush(i);
  if (n > sizeof s.buf) {
    if (!s.failed && !write_all(s.fd, static_cast<const char*>(p), n)) s.failed = true;
    return;
  }
  std::memcpy(s.buf + s.used, p, n);
  s.used += n;
}

void put_record(int i, uint32_t type, const void* a, size_t na, const void* b, size_t nb) {
  nt_trace_record_header h{type, static_cast<uint32_t>(na + nb)};
  put(i, &h, sizeof h);
  put(i, a, na);
  if (nb) put(i, b, nb);
  static const char zeros[8] = {};
  size_t pad = (8 - (na + nb) % 8) % 8;
  if (pad) put(i, zeros, pad);
}

const char* type_name(uint16_t t) {
  const char* n = format::event_name(t);
  return n ? n : "unknown";
}

const char* path_of(uint64_t string_offset) {
  const Recorder& r = fr();
  return string_offset && string_offset < NT_FR_STRINGS ? r.strings + string_offset : "";
}

uint64_t ns_of(uint64_t tsc) {
  const Recorder& r = fr();
  double scale;
  __atomic_load(&r.ns_per_tsc, &scale, __ATOMIC_RELAXED);
  return tsc > r.tsc0 ? static_cast<uint64_t>(static_cast<double>(tsc - r.tsc0) * scale) : 0;
}

// The finding an NT_EV_FINDING event refers to, if still in the ring.
const nt_fr_finding* finding_of(const nt_fr_event& e) {
  const nt_fr_finding& f = fr().findings[e.d % NT_FR_MAX_FINDINGS];
  return f.seq && f.code == e.flags ? &f : nullptr;
}

}  // namespace sink

using namespace sink;

// Its own cache line: every resolve reads it, the drainer writes it.
alignas(64) constinit std::atomic<uint64_t> g_drained{0};

namespace {
// constinit: these must be ready before any constructor (ours included) runs.
int g_n_open = 0;
constinit std::atomic<bool> g_owner{false};  // held while draining
constinit std::atomic<bool> g_running{false};
constinit std::atomic<bool> g_stop{false};
uint32_t g_wake_word = 0;
pthread_t g_thread;
uint64_t g_cursor = 0;  // last seq drained (g_drained publishes it)
int g_stuck_rounds = 0;
int g_unwritten_rounds = 0;  // drains that found the cursor at the same unwritten block entry

// Block entries passed before they were written (a thread idle in its
// sequence block, or a flush): looked at again on every drain until the
// ring laps them; one written after all is taken then, late.
constexpr int kRecheck = 512;
uint64_t g_recheck[kRecheck];
int g_n_recheck = 0;

void remember_unwritten(uint64_t seq) {
  if (g_n_recheck < kRecheck) {
    g_recheck[g_n_recheck++] = seq;
    return;
  }
  int oldest = 0;  // the likeliest to be lapped already
  for (int i = 1; i < kRecheck; ++i)
    if (g_recheck[i] < g_recheck[oldest]) oldest = i;
  g_recheck[oldest] = seq;
}

// Remote reads (NT015) of the current load, counted from the drained
// resolves (each names the mapping it went through) and judged at its model
// end, or when the sinks stop if the load has none (the interposer's). Only
// the drainer (holding g_owner) touches them.
rules::RemoteReads g_remote;
bool g_remote_judged = false;

// Returns whether it raised NT015 (an event the sinks still have to drain).
bool judge_remote() {
  if (g_remote_judged || !g_remote.last_seq) return false;
  g_remote_judged = true;
  nt_fr_finding f;
  if (!rules::check_remote_reads(fr(), g_remote, g_settings.remote_pct, f)) return false;
  raise_finding(f);
  return true;
}

void count_remote(const nt_fr_event& e, bool from_signal) {
  switch (e.type) {
    case NT_EV_RESOLVE: g_remote.add(fr(), e, e.mapping); break;
    case NT_EV_MODEL_BEGIN:
      g_remote.reset();
      g_remote_judged = false;
      break;
    case NT_EV_MODEL_END:
      if (!from_signal) judge_remote();  // raises: not from a signal handler
      break;
    default: break;
  }
}

void emit(const nt_fr_event& e) {
  for (int i = 0; i < g_n_open; ++i) {
    if (g_sinks[i].failed) continue;
    switch (g_settings.sinks[i].kind) {
      case SinkKind::binary:
        put_record(i, NT_REC_EVENT, &e, sizeof e);
        if (e.type == NT_EV_MODEL_BEGIN || e.type == NT_EV_FILE_OPEN) {
          const char* p = path_of(e.d);
          put_record(i, NT_REC_STRING, &e.seq, sizeof e.seq, p, std::strlen(p));
        }
        if (e.type == NT_EV_FINDING) {
          if (const nt_fr_finding* f = finding_of(e)) {
            char msg[768];
            size_t n = rules::format_finding(fr(), *f, msg, sizeof msg);
            put_record(i, NT_REC_FINDING, f, sizeof *f, msg, n);
          }
        }
        break;
      case SinkKind::jsonl: emit_jsonl(i, e); break;
      case SinkKind::text: emit_text(i, e); break;
      case SinkKind::journal: emit_journal(i, e); break;
    }
  }
}

void emit_dropped(uint64_t first, uint64_t count) {
  __atomic_fetch_add(&fr().counters.dropped_sink, count, __ATOMIC_RELAXED);
  for (int i = 0; i < g_n_open; ++i) {
    switch (g_settings.sinks[i].kind) {
      case SinkKind::binary: {
        uint64_t p[2] = {first, count};
        put_record(i, NT_REC_DROPPED, p, sizeof p);
        break;
      }
      case SinkKind::jsonl: {
        char line[160];
        rules::Buf b(line, sizeof line - 2);
        b.s("{\"type\":\"dropped\",\"first_seq\":").u(first).s(",\"count\":").u(count).s("}");
        size_t n = b.size();
        line[n++] = '\n';
        put(i, line, n);
        break;
      }
      case SinkKind::journal: break;  // counted; the summary says so
      case SinkKind::text: {
        char line[160];
        rules::Buf b(line, sizeof line - 2);
        b.s("numa-trace: ").u(count).s(" events lost: the ring lapped this sink");
        size_t n = b.size();
        line[n++] = '\n';
        put(i, line, n);
        break;
      }
    }
  }
}

// The node of each resolved tensor's first page, and of each read's first
// destination page, in one move_pages(2) query per batch (status only: no
// page is moved or faulted in), off the event path.
bool has_page(const nt_fr_event& e) {
  return (e.type == NT_EV_RESOLVE || e.type == NT_EV_READ) && e.c;
}

void fill_page_nodes(nt_fr_event* batch, int n) {
  void* pages[256];
  int status[256];
  int k = 0;
  for (int i = 0; i < n; ++i)
    if (has_page(batch[i])) pages[k++] = reinterpret_cast<void*>(batch[i].c & ~uint64_t{4095});
  if (k == 0) return;
  if (syscall(SYS_move_pages, 0, static_cast<unsigned long>(k), pages, nullptr, status, 0) != 0) return;
  k = 0;
  for (int i = 0; i < n; ++i)
    if (has_page(batch[i])) {
      batch[i].page_node = static_cast<int16_t>(status[k] >= 0 ? status[k] : -1);
      ++k;
    }
}

void* drainer_main(void*) {
  // Signals are the program's business, not this thread's; and a closed
  // pipe must give EPIPE here, not kill the program with SIGPIPE.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  Guard g;  // nothing this thread does is traced
  while (!g_stop.load(std::memory_order_acquire)) {
    uint32_t word = __atomic_load_n(&g_wake_word, __ATOMIC_ACQUIRE);
    timespec ts{0, 20L * 1000 * 1000};
    syscall(SYS_futex, &g_wake_word, FUTEX_WAIT_PRIVATE, word, &ts, nullptr, 0);
    refresh_clock();
    drain(false, true);
  }
  return nullptr;
}

}  // namespace

// write(2) that cannot raise a signal in the program: a closed pipe
// (SIGPIPE) or RLIMIT_FSIZE (SIGXFSZ) must be an error of numa-trace's sink,
// never the death of a program that runs fine without it. Both signals are
// blocked around the write on this thread; if the write raised one that
// was not already pending, it is taken off again (sigtimedwait with a zero
// timeout) before the mask is put back. All of it async-signal-safe.
ssize_t quiet_write(int fd, const void* p, size_t n) {
  sigset_t block, old, before;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  sigaddset(&block, SIGXFSZ);
  pthread_sigmask(SIG_BLOCK, &block, &old);
  sigpending(&before);
  ssize_t w = write(fd, p, n);
  const int err = errno;
  if (w < 0 && (err == EPIPE || err == EFBIG)) {
    const int sig = err == EPIPE ? SIGPIPE : SIGXFSZ;
    if (!sigismember(&before, sig)) {
      sigset_t one;
      sigemptyset(&one);
      sigaddset(&one, sig);
      const timespec zero{0, 0};
      while (sigtimedwait(&one, nullptr, &zero) < 0 && errno == EINTR) {
      }
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = err;
  return w;
}

void write_stderr(const char* s, size_t n) {
  while (n) {
    ssize_t w = quiet_write(STDERR_FILENO, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= static_cast<size_t>(w);
  }
}

void defer_sinks() {
  g_sinks_pending.store(g_settings.n_sinks > 0 || g_settings.progress, std::memory_order_release);
}

void start_pending_sinks() {
  if (g_sinks_pending.exchange(false, std::memory_order_acq_rel)) start_sinks(true);
}

void start_sinks(bool from_start) {
  Recorder& r = fr();
  g_n_open = 0;
  for (int i = 0; i < g_settings.n_sinks; ++i) {
    const SinkSpec& spec = g_settings.sinks[i];
    Sink& s = g_sinks[i];
    s = Sink{};
    g_n_open = i + 1;
    if (spec.kind == SinkKind::text) {
      s.fd = STDERR_FILENO;
      continue;
    }
    if (spec.kind == SinkKind::journal) {
      if (!journal_open()) {
        s.failed = true;
        __atomic_fetch_add(&r.counters.sink_errors, 1, __ATOMIC_RELAXED);
        static const char msg[] =
            "numa-trace: trace sink journal: libsystemd.so.0 or sd_journal_sendv not found; this sink is off\n";
        write_stderr(msg, sizeof msg - 1);
      } else if (struct stat st; stat(kJournalSocket, &st) != 0 || !S_ISSOCK(st.st_mode)) {
        // sd_journal_sendv drops entries silently (and returns 0) when no
        // journald listens: without its socket the sink would lose every
        // event unsaid.
        s.failed = true;
        __atomic_fetch_add(&r.counters.sink_errors, 1, __ATOMIC_RELAXED);
        static const char msg[] =
            "numa-trace: trace sink journal: no systemd-journald is running (no socket at "
            "/run/systemd/journal/socket); this sink is off, the flight recorder keeps recording\n";
        write_stderr(msg, sizeof msg - 1);
      }
      continue;
    }
    // "%p" in a path is the pid, so several processes can trace side by side.
    char path[600];
    rules::Buf b(path, sizeof path);
    for (const char* c = spec.path; *c; ++c) {
      if (c[0] == '%' && c[1] == 'p') {
        b.u(r.pid);
        ++c;
      } else {
        b.c(*c);
      }
    }
    s.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (s.fd < 0 && errno == EEXIST) {
      // Another traced process or image wrote PATH (a script that runs the
      // loader, a forked child, an exec): this one traces to the first free
      // PATH.1, PATH.2, ... (numa-trace run lists them). Never overwritten.
      const size_t base = b.size();
      for (unsigned k = 1; k < 100 && s.fd < 0 && errno == EEXIST; ++k) {
        rules::Buf nb(path + base, sizeof path - base);
        nb.c('.').u(k);
        if (base + nb.size() >= sizeof path) break;
        path[base + nb.size()] = 0;
        s.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      }
    }
    if (s.fd < 0) {
      s.failed = true;
      __atomic_fetch_add(&r.counters.sink_errors, 1, __ATOMIC_RELAXED);
      report_sink(spec, "cannot create", errno);
      continue;
    }
    s.owned = true;
    if (spec.kind == SinkKind::binary) {
      nt_trace_header h;
      std::memset(&h, 0, sizeof h);
      std::memcpy(h.magic, NT_TRACE_MAGIC, sizeof NT_TRACE_MAGIC);
      h.version = NT_TRACE_VERSION;
      h.header_size = sizeof h;
      h.event_size = sizeof(nt_fr_event);
      h.recorder_version = NT_FR_VERSION;
      h.pid = r.pid;
      h.tsc0 = r.tsc0;
      h.clock = clock_counts_ns() ? NT_TRACE_CLOCK_NS : NT_TRACE_CLOCK_TSC;
      h.start_realtime_ns = r.start_realtime_ns;
      put(i, &h, sizeof h);
    }
  }
  // Started at the process's first event, a sink gets every event; started
  // by numatrace_configure(), the events from now on (earlier ones stay in
  // the flight recorder).
  g_cursor = from_start ? 0 : __atomic_load_n(&r.head, __ATOMIC_ACQUIRE);
  reset_progress();
  if ((g_n_open == 0 && !g_settings.progress) || g_running.load()) return;
  g_stop.store(false);
  // The drainer is created with every signal blocked so none is ever
  // delivered to it, even before it runs.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  if (pthread_create(&g_thread, nullptr, drainer_main, nullptr) == 0) g_running.store(true);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}

void wake_drainer() {
  if (!g_running.load(std::memory_order_relaxed)) return;
  __atomic_fetch_add(&g_wake_word, 1, __ATOMIC_RELEASE);
  syscall(SYS_futex, &g_wake_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

bool drain(bool from_signal, bool patient) {
  if (g_owner.exchange(true, std::memory_order_acquire)) return false;
  Recorder& r = fr();
  // A flush or a final drain goes on to what it raised itself (NT015 at a
  // model end it drained) or what was recorded meanwhile; a few passes.
  for (int pass = 0; pass < 4; ++pass) {
    const uint64_t head = __atomic_load_n(&r.head, __ATOMIC_ACQUIRE);
    if (pass > 0 && (patient || head <= g_cursor)) break;
    if (g_n_open > 0 || g_settings.progress) {
      if (head > g_cursor + NT_FR_RING) {
        uint64_t lost_to = head - NT_FR_RING;
        emit_dropped(g_cursor + 1, lost_to - g_cursor);
        g_cursor = lost_to;
      }
      nt_fr_event batch[64];
      int n = 0;
      auto flush_batch = [&] {
        if (!from_signal) fill_page_nodes(batch, n);
        for (int i = 0; i < n; ++i) {
          emit(batch[i]);
          count_remote(batch[i], from_signal);
          if (g_settings.progress) track_progress(batch[i], from_signal);
        }
        n = 0;
      };
      // Entries passed unwritten earlier: written since, or lapped.
      for (int i = 0; i < g_n_recheck;) {
        const uint64_t want = g_recheck[i];
        uint64_t seen;
        if (read_event(r.ring[(want - 1) & (NT_FR_RING - 1)], want, batch[n], seen)) {
          if (++n == 64) flush_batch();
        } else if ((seen < want || seen == NT_FR_SEQ_WRITING) && want + NT_FR_RING > head) {
          ++i;  // still unwritten, and not lapped: look again next time
          continue;
        }
        g_recheck[i] = g_recheck[--g_n_recheck];
      }
      while (g_cursor < head) {
        uint64_t want = g_cursor + 1;
        uint64_t seen;
        if (!read_event(r.ring[(want - 1) & (NT_FR_RING - 1)], want, batch[n], seen)) {
          if (seen < want) {
            // Claimed in a thread's sequence block, not written (yet): the
            // drainer thread waits for it a few rounds (the thread is likely
            // between two resolves); then, or at once for a flush, it is
            // passed, and its thread's next resolve starts a new block.
            if (patient && want + NT_FR_RING / 2 > head && ++g_unwritten_rounds < 3) break;
            g_unwritten_rounds = 0;
            remember_unwritten(want);
            g_cursor = want;
            continue;
          }
          // Still being written: wait for it a few rounds (its writer may be
          // preempted), then give it up; a crashed writer never finishes.
          if (seen == NT_FR_SEQ_WRITING && !from_signal && ++g_stuck_rounds < 50) break;
          g_stuck_rounds = 0;
          emit_dropped(want, 1);
          g_cursor = want;
          continue;
        }
        g_stuck_rounds = 0;
        g_unwritten_rounds = 0;
        g_cursor = want;
        if (++n == 64) flush_batch();
      }
      flush_batch();
      for (int i = 0; i < g_n_open; ++i) flush(i);
    } else {
      g_cursor = head;
    }
  }
  g_drained.store(g_cursor, std::memory_order_relaxed);
  g_owner.store(false, std::memory_order_release);
  return true;
}

// From the crash handler: the ring to every sink, then the crash record to
// binary traces. The drainer thread may be in the middle of a drain (it
// holds the sinks); it is not the crashing thread, so it finishes within
// milliseconds: wait for it (nanosleep is async-signal-safe), at most 500 ms,
// rather than lose what it had not written yet.
void drain_for_crash() {
  for (int i = 0; i < 500 && !drain(true); ++i) {
    timespec ms{0, 1000L * 1000};
    nanosleep(&ms, nullptr);
  }
  write_crash_record();
}

// Writes the crash record to binary sinks (from the crash handler).
void write_crash_record() {
  for (int i = 0; i < 500 && g_owner.exchange(true, std::memory_order_acquire); ++i) {
    timespec ms{0, 1000L * 1000};
    nanosleep(&ms, nullptr);
    if (i == 499) return;
  }
  for (int i = 0; i < g_n_open; ++i)
    if (g_settings.sinks[i].kind == SinkKind::binary) {
      put_record(i, NT_REC_CRASH, &fr().crash, sizeof fr().crash);
      flush(i);
    }
  g_owner.store(false, std::memory_order_release);
}

namespace {

// The journal's resolve summaries and the binary traces' summary record;
// the caller holds the sinks (g_owner).
void write_summaries() {
  Recorder& r = fr();
  for (int i = 0; i < g_n_open; ++i) {
    Sink& s = g_sinks[i];
    if (g_settings.sinks[i].kind == SinkKind::journal && !s.failed) journal_resolve_summary(i);
    if (g_settings.sinks[i].kind == SinkKind::binary && !s.failed) {
      nt_trace_summary sum;
      std::memset(&sum, 0, sizeof sum);
      sum.ns_per_tsc = r.ns_per_tsc;
      sum.head = r.head;
      sum.counters = r.counters;
      put_record(i, NT_REC_SUMMARY, &sum, sizeof sum);
      flush(i);
    }
  }
}

}  // namespace

void stop_sinks() {
  if (g_running.exchange(false)) {
    g_stop.store(true, std::memory_order_release);
    __atomic_fetch_add(&g_wake_word, 1, __ATOMIC_RELEASE);
    syscall(SYS_futex, &g_wake_word, FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
    pthread_join(g_thread, nullptr);
  }
  while (!drain(false)) sched_yield();
  // A load without a model end is judged now; its finding is drained too.
  if (judge_remote())
    while (!drain(false)) sched_yield();
  write_summaries();
  for (int i = 0; i < g_n_open; ++i) {
    Sink& s = g_sinks[i];
    if (s.owned) close(s.fd);
    s.fd = -1;
  }
  g_n_open = 0;
}

// _exit or exec: the image ends without destructors. What the ring holds
// goes out now, and the summary, so the trace is complete; async-signal-
// safe (_exit may be called from a handler), the drainer thread is not
// joined, and a drainer holding the sinks is waited for at most 500 ms.
// If an exec fails, tracing goes on: later records follow the summary,
// and the summary written at the real end is the last.
void sinks_before_image_ends() {
  if (g_n_open == 0) return;
  for (int i = 0; i < 500 && !drain(true); ++i) {
    timespec ms{0, 1000L * 1000};
    nanosleep(&ms, nullptr);
  }
  if (g_owner.exchange(true, std::memory_order_acquire)) return;
  if (judge_remote()) {
    g_owner.store(false, std::memory_order_release);
    if (!drain(true) || g_owner.exchange(true, std::memory_order_acquire)) return;
  }
  write_summaries();
  g_owner.store(false, std::memory_order_release);
}

void sinks_after_fork_child() {
  // The drainer thread does not exist in the child, and the parent's trace
  // files are the parent's: the child closes its copies. Its own sinks
  // start at its first event (PATH.1, ... beside the parent's), so a child
  // that loads a model is traced and one that only execs writes nothing.
  for (int i = 0; i < g_n_open; ++i)
    if (g_sinks[i].owned) close(g_sinks[i].fd);
  g_n_open = 0;
  g_running.store(false);
  g_owner.store(false);
  g_cursor = 0;
  g_drained.store(0, std::memory_order_relaxed);
  g_n_recheck = 0;
  g_remote.reset();  // the child's loads are its own
  g_remote_judged = false;
  defer_sinks();
}

}  // namespace numatrace::rec
