// Shared state of libnumatrace's translation units. In-process rules: see
// the top of recorder.cpp.
#pragma once

#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

#include <atomic>

#include "numatrace/recorder.h"
#include "numatrace/rules/engine.h"
#include "numatrace/rules/remote.h"

// The hooks' public constants (hooks.h) are the layout's.
static_assert(NUMATRACE_KIND_PER_FILE == NT_KIND_PER_FILE && NUMATRACE_KIND_UNIFIED == NT_KIND_UNIFIED &&
                  NUMATRACE_KIND_REPLICA == NT_KIND_REPLICA,
              "hooks.h kinds");
static_assert(NUMATRACE_MAP_HUGETLB == NT_MAP_HUGETLB && NUMATRACE_MAP_POPULATE == NT_MAP_POPULATE &&
                  NUMATRACE_MAP_FIXED == NT_MAP_FIXED && NUMATRACE_MAP_ANON == NT_MAP_ANON,
              "hooks.h flags");

namespace numatrace::rec {

using rules::Recorder;

inline constexpr int kMaxSinks = 4;

enum class SinkKind : uint8_t { binary, jsonl, text, journal };

// Where an event's CPU and node come from (NUMA_TRACE's cpu= word picks
// one for tests and comparisons; none = the cheapest the machine has).
enum class CpuSource : uint8_t { none, rdpid, rdtscp, rseq, getcpu };
inline constexpr const char* kCpuSourceNames[] = {"none", "rdpid", "rdtscp", "rseq", "getcpu"};  // by CpuSource

// What NUMA_TRACE (or numatrace_configure) asked for; small, copied freely.
struct SinkSpec {
  SinkKind kind = SinkKind::text;
  bool all = false;  // text and journal sinks: every resolve (else the journal gets them aggregated per file)
  char path[512] = {};
};
struct Settings {
  bool strict = false;     // stop the program at the first error finding
  bool quiet = false;      // no finding lines on stderr
  bool keep_dump = false;  // do not mark model mappings MADV_DONTDUMP
  bool verify = true;      // NT011: compare unified/replica data with the files at model end
  bool progress = false;   // a progress line on stderr while resolving (numa-trace run sets it on a terminal)
  CpuSource cpu_source = CpuSource::none;
  bool precise_clock =
      false;  // clock=tsc: a TSC timestamp per event, else the kernel's coarse clock (docs/recorder.md)
  uint32_t remote_pct = rules::kDefaultRemoteThresholdPct;  // NT015's threshold (remote=PCT)
  int n_sinks = 0;
  SinkSpec sinks[kMaxSinks];
};

extern Settings g_settings;
extern std::atomic<bool> g_ready;

Recorder& fr();

// Calling thread's record index (-1 when the table is full) and tid.
struct ThreadInfo {
  int index;
  uint32_t tid;
};
ThreadInfo thread_info();

// Timestamp and the CPU and node it ran on (-1 when no source answers).
struct Stamp {
  uint64_t tsc;
  int16_t cpu, node;
};
Stamp stamp();
CpuSource cpu_source();  // the source chosen at start
bool clock_counts_ns();  // events' tsc is nanoseconds (the coarse clock), not a TSC

// Claims the next seq and returns a staging event (the calling thread's,
// or `into`) with the common fields filled, for the caller to complete;
// publish() copies it into the ring. read_event() is the reader's side:
// false when the entry is not event `want` (`seen` says what it was).
nt_fr_event* begin_event(uint16_t type, uint64_t& seq, nt_fr_event* into = nullptr);
void publish(nt_fr_event* e, uint64_t seq);
bool read_event(const nt_fr_event& slot, uint64_t want, nt_fr_event& out, uint64_t& seen);

// A finding raised at `seq`: stored, recorded as an event, printed, and in
// strict mode the program is stopped.
void raise_finding(const nt_fr_finding& f);

// Serializes table changes (create, unmap, destroy, sampling). Never taken
// on the resolve path or in a signal handler.
// unlock_tables() (and any other change to what a resolve is checked
// against: file sizes, a fork) bumps the table epoch, which invalidates each
// thread's cache of its last resolve's check.
void lock_tables();
void unlock_tables();
void tables_changed();

// Sinks (sinks.cpp).
int parse_settings(const char* spec, Settings& out);  // 0 ok, -1 unknown word
// Sinks start at a process's first event (start_pending_sinks, called
// before each event but a crash's), not at load: a process that records
// nothing (a shell that runs the loader, a child that only execs) creates
// no trace file and starts no thread. from_start: the sinks get every
// event recorded so far.
extern std::atomic<bool> g_sinks_pending;
void defer_sinks();  // sinks pending per g_settings
void start_pending_sinks();
void start_sinks(bool from_start);
void stop_sinks();               // final drain, summary, close
void sinks_before_image_ends();  // _exit, exec: drain and summary, async-signal-safe
// false when another drainer holds the sinks. patient (the drainer thread):
// entries of a thread's sequence block not written yet are waited for a
// few rounds; otherwise they are passed at once (and taken late if written).
bool drain(bool from_signal, bool patient = false);
// The last seq drained, for the resolve path (0 when no sink runs).
extern std::atomic<uint64_t> g_drained;
void wake_drainer();
void sinks_after_fork_child();
void write_stderr(const char* s, size_t n);
ssize_t quiet_write(int fd, const void* p, size_t n);  // write(2) that never raises SIGPIPE or SIGXFSZ
void write_crash_record();                             // binary sinks, from the crash handler
void drain_for_crash();  // the ring and the crash record, waiting for the drainer if it holds the sinks

// Placement and data checks (placement.cpp).
void sample_placement(int mapping);  // caller holds the table lock
void sample_all_live();              // every live mapping; caller holds the table lock
void verify_data();                  // caller holds the table lock
void refresh_clock();

// Crash capture (crash.cpp).
void install_crash_handlers();
void finish_pending_crash();  // the program ends inside its own fault handler: that fault was a crash
void ensure_altstack();

// Recursion guard: true while this thread is inside the recorder.
struct Guard {
  Guard();
  ~Guard();
  bool entered;  // false: the recorder was already active on this thread
};

}  // namespace numatrace::rec
