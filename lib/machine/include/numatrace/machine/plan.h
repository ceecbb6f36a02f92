// Whether a model load with a given strategy can work on a machine, node by
// node, before it runs (`numa-trace check`): what will fail, the finding
// code the load would raise, and what to change (docs/check.md).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "numatrace/gguf/model.h"
#include "numatrace/machine/machine.h"

namespace numatrace::machine {

using Strategy = gguf::Strategy;
using gguf::strategy_name;

struct ModelFacts {
  std::string path;                // the first split
  std::vector<std::string> files;  // every split
  std::vector<uint64_t> sizes;     // bytes of each split
  uint64_t total = 0;              // sum of sizes
  uint64_t region = 0;             // the unified region (splits page-aligned back to back)
};

struct PlanOptions {
  Strategy strategy = Strategy::per_file;
  std::string hugetlbfs;  // back unified/mirror regions with hugepages of this mount
  bool mlock = false;
  bool privileged = false;  // CAP_IPC_LOCK (root): RLIMIT_MEMLOCK does not apply
};

struct Item {
  enum Level { problem, advice };
  Level level = problem;
  int node = -1;     // the node it is about, -1 the whole machine
  std::string code;  // the finding the load would raise (NT009, NT015), or empty
  std::string what;  // what will happen and why, with the numbers
  std::string fix;   // what to change
};

struct NodeNeed {
  int id = 0;
  uint64_t bytes = 0;                 // memory this node must give the load (0: none in particular)
  std::optional<uint64_t> available;  // free + reclaimable page cache
  uint64_t hugepages = 0;             // hugepages this node must give (hugetlbfs)
  std::optional<uint64_t> free_hugepages;
  bool fits = true;
};

struct Plan {
  Strategy strategy = Strategy::per_file;
  uint64_t bytes = 0;      // the memory one copy of the model takes (total, or the region)
  int copies = 1;          // replicas (mirror: one per node)
  uint64_t huge_page = 0;  // the hugetlbfs page size, 0 without hugetlbfs
  uint64_t hugepages = 0;  // per copy
  std::vector<NodeNeed> nodes;
  std::vector<Item> items;
  std::vector<std::string> unknown;  // what check could not know, and why
  bool fits() const {
    for (const auto& i : items)
      if (i.level == Item::problem) return false;
    return true;
  }
};

// `cache` holds the page-cache placement of each split (same order as
// model.files; may be empty when not read).
Plan check_plan(const ModelFacts& model, const Machine& m, const std::vector<CachePlacement>& cache,
                const PlanOptions& o);

}  // namespace numatrace::machine
