// A running process seen from outside, without stopping or changing it
// (`numa-trace placement PID`): its mappings, the node of pages at its
// addresses, and libnumatrace's flight recorder in its memory.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "numatrace/recorder_layout.h"

namespace numatrace::machine {

struct Vma {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms;  // "r--p"
  std::string path;   // empty for anonymous memory
};

// /proc/PID/maps; `error` says why it could not be read ("No such process").
struct Maps {
  std::vector<Vma> vmas;
  std::string comm;  // /proc/PID/comm
  std::string error;
  int err = 0;  // errno
};
Maps read_maps(pid_t pid);

// The node of each page at `pages` in process `pid` (move_pages(2) in query
// mode: nothing moves, nothing is faulted in), in batches of kBatch pages,
// with a pause after each batch so that at most `pages_per_second` are
// asked. status[i] is the node, or -errno (-ENOENT: not present). Returns 0
// or the errno of a refused call (EPERM: not allowed to read that process).
inline constexpr size_t kBatch = 1024;
int query_nodes(pid_t pid, const std::vector<uint64_t>& pages, std::vector<int>& status, uint64_t pages_per_second);

// /proc/PID/numa_maps: pages per node of each mapping, by its start address
// (what the kernel allows when move_pages on the process is refused).
std::map<uint64_t, std::vector<uint64_t>> read_numa_maps(pid_t pid);

// libnumatrace's flight recorder in `pid`, when it is loaded there: found
// in the library's writable mappings and the anonymous one after them
// (.bss) by its magic, copied with process_vm_readv, and checked (version,
// size). Null with `why` otherwise.
std::unique_ptr<nt_flight_recorder> read_recorder(pid_t pid, const Maps& maps, std::string& why);

}  // namespace numatrace::machine
