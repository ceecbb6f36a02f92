// Finding numa-trace's own files and running programs (demo, run).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace numatrace::cli {

std::string self_dir();
// libnumatrace.so (preload = false) or libnumatrace-preload.so, from the
// environment (NUMA_TRACE_LIBRARY / NUMA_TRACE_PRELOAD), the build tree or
// the install libdir; empty when not found.
std::string find_library(bool preload);
std::string find_loader();  // numa-trace-loader next to numa-trace, or NUMA_TRACE_LOADER

// The file execvp would run for `name`: a path with a slash as it is, else
// the first executable file of that name in a $PATH folder; empty if none.
std::string which(const std::string& name);

// Why the dynamic loader would ignore LD_PRELOAD for this program (it runs
// with AT_SECURE: setuid or setgid to another user or group, or file
// capabilities); empty when it would not.
std::string secure_exec_reason(const std::string& program_path);

// The sanitizer runtime a dynamically linked program needs first in the
// process (gcc's -fsanitize=address links libasan.so.N, whose start-up
// aborts unless it is the first library): its path, or empty. Read from the
// program's DT_NEEDED entries, found in the system library folders.
std::string first_runtime_of(const std::string& program_path);

// CLOCK_MONOTONIC in milliseconds, for deadlines (run_captured, the sandbox).
uint64_t monotonic_ms();

struct Captured {
  int status = 0;          // as from waitpid; -1 when it could not start
  bool timed_out = false;  // killed after timeout_s
  std::string out, err;
};
// Runs argv in `cwd` with `env` added, core dumps allowed, output captured;
// killed (SIGKILL) after timeout_s seconds when that is not 0.
Captured run_captured(const std::vector<std::string>& argv, const std::vector<std::string>& env, const std::string& cwd,
                      unsigned timeout_s = 0);

}  // namespace numatrace::cli
