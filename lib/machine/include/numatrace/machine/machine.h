// What a machine offers a model load, read from sysfs and procfs: NUMA nodes
// and their memory, hugepage pools per node, the mlock limit, automatic NUMA
// balancing, transparent hugepages, hugetlbfs mounts, and where the page
// cache holds a file's pages. docs/check.md says where each fact comes from.
//
// The roots are parameters so that tests can feed fake trees; a fact that
// cannot be read is left unknown (std::nullopt, or listed in `unknown` with
// the reason), never guessed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace numatrace::machine {

struct Roots {
  std::string sys = "/sys";
  std::string proc = "/proc";
};

struct HugePool {
  uint64_t page_size = 0;  // bytes
  uint64_t total = 0;      // nr_hugepages
  uint64_t free = 0;       // free_hugepages
};

struct Node {
  int id = 0;
  std::string cpus;  // cpulist, e.g. "0-3,8"
  std::optional<uint64_t> mem_total, mem_free;
  std::optional<uint64_t> file_lru;  // Active(file) + Inactive(file): page cache the kernel can reclaim
  std::vector<HugePool> huge;        // by page size, ascending
  // What a load can count on: free memory plus reclaimable page cache.
  std::optional<uint64_t> available() const {
    if (!mem_free) return std::nullopt;
    return *mem_free + file_lru.value_or(0);
  }
  const HugePool* pool(uint64_t page_size) const {
    for (const auto& p : huge)
      if (p.page_size == page_size) return &p;
    return nullptr;
  }
};

struct HugetlbfsMount {
  std::string dir;
  uint64_t page_size = 0;               // from statfs, else the pagesize= option, else 0 (unknown)
  std::optional<uint64_t> limit, free;  // pages, when the mount has a size= limit
  bool statfs_ok = false;               // statfs saw a hugetlbfs there
};

struct Machine {
  bool numa_sysfs = false;            // <sys>/devices/system/node exists
  std::vector<Node> nodes;            // ascending id; one node 0 with /proc/meminfo's numbers when no NUMA sysfs
  std::optional<int> numa_balancing;  // kernel.numa_balancing
  std::string thp;                    // transparent_hugepage/enabled: always, madvise or never; "" unknown
  std::optional<uint64_t> memlock_soft, memlock_hard;  // bytes; UINT64_MAX unlimited
  std::vector<HugetlbfsMount> hugetlbfs;
  uint64_t page_size = 4096;
  std::vector<std::string> unknown;  // "what: why", for each fact that could not be read
};

inline constexpr uint64_t kUnlimited = UINT64_MAX;

Machine read_machine(const Roots& roots = {});

// Where the page cache holds a file's pages now: the file is mapped (not
// read: nothing new is brought in), mincore(2) says which pages are
// resident, and up to `max_samples` of those, evenly spaced, are touched
// (they are resident: no I/O) and asked their node with move_pages(2).
struct CachePlacement {
  uint64_t pages = 0;     // in the file
  uint64_t resident = 0;  // in the page cache
  uint64_t sampled = 0;
  std::vector<uint64_t> per_node;  // sampled pages per node (index = node)
  std::string error;               // why it could not be read, else empty
};
CachePlacement page_cache_placement(const std::string& path, uint64_t max_samples = 1024);

}  // namespace numatrace::machine
