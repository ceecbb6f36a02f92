// Untrusted inputs (cores) are decoded in a child process, as
// systemd-coredump does: a crash, a runaway allocation or a hang in the
// decoder (ours or libdw's) is then a clear error of numa-trace, never a
// crash or a hang of it.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace numatrace::cli {

struct SandboxLimits {
  unsigned wall_seconds = 300;              // killed after this long (0: no limit)
  unsigned cpu_seconds = 300;               // RLIMIT_CPU
  uint64_t data_bytes = uint64_t{8} << 30;  // RLIMIT_DATA: heap and private writable mappings
};

// Runs `body` in a forked child with stdin /dev/null, its stdout a pipe to
// this process, stderr shared, every other descriptor closed, no new
// privileges, no core of its own, and the limits above. On a normal exit
// the child's stdout is copied to ours and its exit code returned. If it
// is killed (a signal, the CPU or wall-clock limit), nothing it printed on
// stdout is passed on (no half JSON document), the reason is printed on
// stderr as "numa-trace: WHAT: CODE ..." and kUsage (2) returned.
// NUMA_TRACE_NO_SANDBOX=1 runs `body` in this process (for debugging).
int run_sandboxed(const std::string& what, const SandboxLimits& limits, const std::function<int()>& body);
// The same, keeping what the child prints: its stdout in `out` (emptied
// when it was killed), and, when `err` is given, its stderr and the reason
// it was stopped appended there instead of printed.
int run_sandboxed_into(const std::string& what, const SandboxLimits& limits, const std::function<int()>& body,
                       std::string& out, std::string* err);

}  // namespace numatrace::cli
