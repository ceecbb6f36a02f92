// Judging a planned load against the machine (plan.h).
#include "numatrace/machine/plan.h"

#include <algorithm>

#include "numatrace/rules/buf.h"

namespace numatrace::machine {

namespace {

std::string size_text(uint64_t v) {
  char b[32];
  rules::Buf(b, sizeof b).bytes(v);
  return b;
}

std::string node_name(int id) {
  return "node " + std::to_string(id);
}

std::string pool_dir(int node, uint64_t page_size) {
  return "/sys/devices/system/node/node" + std::to_string(node) + "/hugepages/hugepages-" +
         std::to_string(page_size / 1024) + "kB/nr_hugepages";
}

const HugetlbfsMount* find_mount(const Machine& m, std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  for (const auto& h : m.hugetlbfs)
    if (h.dir == dir) return &h;
  return nullptr;
}

struct Builder {
  Plan& p;
  void problem(int node, std::string code, std::string what, std::string fix) {
    p.items.push_back({Item::problem, node, std::move(code), std::move(what), std::move(fix)});
  }
  void advice(int node, std::string code, std::string what, std::string fix) {
    p.items.push_back({Item::advice, node, std::move(code), std::move(what), std::move(fix)});
  }
};

// Per-file mappings: the page cache holds the pages, on the node of whoever
// first read them.
void per_file(const ModelFacts& model, const Machine& m, const std::vector<CachePlacement>& cache, Builder& b) {
  uint64_t available = 0;
  bool all_known = true;
  for (const auto& n : m.nodes) {
    if (auto a = n.available())
      available += *a;
    else
      all_known = false;
  }
  uint64_t resident = 0, pages = 0;
  std::vector<uint64_t> per_node;
  for (const auto& c : cache) {
    resident += c.resident;
    pages += c.pages;
    if (per_node.size() < c.per_node.size()) per_node.resize(c.per_node.size());
    for (size_t k = 0; k < c.per_node.size(); ++k) per_node[k] += c.per_node[k];
  }
  const uint64_t cached_bytes = resident * m.page_size;
  if (all_known && available + cached_bytes < model.total)
    b.advice(-1, "",
             "the model (" + size_text(model.total) + ") is larger than the memory the page cache can have (" +
                 size_text(available + cached_bytes) + " free, reclaimable or already caching the splits): pages " +
                 "will be read from disk again while the model runs",
             "free memory, or use a smaller quantization");
  if (m.nodes.size() < 2) return;
  uint64_t sampled = 0, best = 0;
  int home = -1;
  for (size_t k = 0; k < per_node.size(); ++k) {
    sampled += per_node[k];
    if (per_node[k] > best) best = per_node[k], home = static_cast<int>(k);
  }
  if (sampled && best * 10 >= sampled * 9) {
    const std::string h = std::to_string(home);
    b.advice(home, "NT015",
             std::to_string(pages ? resident * 100 / pages : 0) + "% of the splits' pages are in the page cache, " +
                 std::to_string(best * 100 / sampled) + "% of those on node " + h +
                 ": threads on other nodes will read them remotely",
             "run the load on node " + h + " (numactl --cpunodebind=" + h + " --membind=" + h +
                 ", with llama.cpp's --numa numactl), or drop the splits from the page cache and read them under "
                 "numactl --interleave=all, or use --strategy mirror");
  } else if (!resident) {
    b.advice(-1, "NT015",
             "the splits are not in the page cache: their pages will go to the node of the thread that reads each "
             "first, and threads on the other nodes will read those remotely",
             "start the load with numactl --interleave=all to spread them, or on one node (numactl "
             "--cpunodebind=N --membind=N), or use --strategy mirror");
  }
}

void hugepages_pool(const Plan& p, const Machine& m, const HugetlbfsMount& mount, Builder& b) {
  uint64_t free = 0;
  bool known = false;
  for (const auto& n : m.nodes)
    if (const HugePool* pool = n.pool(p.huge_page)) free += pool->free, known = true;
  const uint64_t need = p.hugepages * static_cast<uint64_t>(p.copies);
  if (known && free < need)
    b.problem(-1, "",
              "the regions need " + std::to_string(need) + " hugepages of " + size_text(p.huge_page) +
                  " and the machine has " + std::to_string(free) + " free: " + std::to_string(need - free) +
                  " missing; the mmap of the hugepage file fails (ENOMEM) and the load stops",
              "reserve more: sysctl vm.nr_hugepages (or per node, " + pool_dir(0, p.huge_page) + ")");
  if (mount.free && *mount.free < need)
    b.problem(-1, "",
              mount.dir + " is limited to " + std::to_string(*mount.limit) + " hugepages, " +
                  std::to_string(*mount.free) + " free, and the regions need " + std::to_string(need),
              "remount it with a larger size= (or none)");
}

void unified(const Plan& p, const Machine& m, Builder& b) {
  if (p.huge_page) return;  // the pool was judged
  uint64_t total = 0;
  const Node* best = nullptr;
  for (const auto& n : m.nodes) {
    if (!n.available()) return;
    total += *n.available();
    if (!best || *n.available() > *best->available()) best = &n;
  }
  if (total < p.bytes) {
    b.problem(-1, "",
              "the unified region needs " + size_text(p.bytes) + " and the machine has " + size_text(total) +
                  " available (free and reclaimable): the allocation fails or the OOM killer ends the load",
              "free memory, or use --strategy per-file (the page cache can evict and re-read)");
  } else if (best && m.nodes.size() > 1 && *best->available() < p.bytes) {
    b.advice(-1, "NT015",
             "no node has room for the whole " + size_text(p.bytes) + " region (node " + std::to_string(best->id) +
                 " has the most: " + size_text(*best->available()) +
                 "): its pages will spread over nodes and most threads will read part of it remotely",
             "free memory on one node, or interleave the region on purpose (numactl --interleave=all)");
  }
}

}  // namespace

Plan check_plan(const ModelFacts& model, const Machine& m, const std::vector<CachePlacement>& cache,
                const PlanOptions& o) {
  Plan p;
  Builder b{p};
  p.strategy = o.strategy;
  const bool region = o.strategy != Strategy::per_file;
  p.bytes = region ? model.region : model.total;
  p.copies = o.strategy == Strategy::mirror ? static_cast<int>(m.nodes.size()) : 1;
  const HugetlbfsMount* mount = nullptr;
  if (!o.hugetlbfs.empty()) {
    mount = find_mount(m, o.hugetlbfs);
    if (!region) {
      b.advice(-1, "", "per-file mappings map the splits themselves: --hugetlbfs is not used",
               "use --strategy unified or mirror to back the model with hugepages");
      mount = nullptr;
    } else if (!mount) {
      b.problem(-1, "", o.hugetlbfs + " is not a hugetlbfs mount: the loader refuses it",
                "mount -t hugetlbfs none " + o.hugetlbfs + " (or name a mount from /proc/mounts)");
    } else if (!mount->page_size) {
      p.unknown.push_back("the page size of " + mount->dir + ": statfs did not answer and the mount has no pagesize=");
      mount = nullptr;
    } else {
      p.huge_page = mount->page_size;
      p.hugepages = (p.bytes + p.huge_page - 1) / p.huge_page;
    }
  }

  for (const auto& n : m.nodes) {
    NodeNeed need;
    need.id = n.id;
    need.available = n.available();
    if (p.huge_page) {
      if (const HugePool* pool = n.pool(p.huge_page))
        need.free_hugepages = pool->free;
      else
        need.free_hugepages = 0;
    }
    if (o.strategy == Strategy::mirror) {
      need.bytes = p.huge_page ? 0 : p.bytes;
      need.hugepages = p.hugepages;
    }
    p.nodes.push_back(need);
  }

  if (o.strategy == Strategy::per_file) per_file(model, m, cache, b);
  if (p.huge_page && mount) hugepages_pool(p, m, *mount, b);
  if (o.strategy == Strategy::unified) unified(p, m, b);
  if (o.strategy == Strategy::mirror) {
    if (m.nodes.size() == 1)
      b.advice(-1, "", "one node: mirror mode makes a single replica, the same as --strategy unified", "");
    for (auto& need : p.nodes) {
      const std::string nn = node_name(need.id);
      if (p.huge_page) {
        const uint64_t have = need.free_hugepages.value_or(0);
        if (have < need.hugepages) {
          need.fits = false;
          const uint64_t total = [&] {
            for (const auto& n : m.nodes)
              if (n.id == need.id)
                if (const HugePool* pool = n.pool(p.huge_page)) return pool->total;
            return uint64_t{0};
          }();
          b.problem(need.id, "NT009",
                    nn + ": its replica needs " + std::to_string(need.hugepages) + " hugepages of " +
                        size_text(p.huge_page) + " and " + nn + " has " + std::to_string(have) +
                        " free: " + std::to_string(need.hugepages - have) +
                        " missing; the replica's pages come from another node (NT009), or the mmap fails when "
                        "the pool runs out",
                    "echo " + std::to_string(total + need.hugepages - have) + " > " + pool_dir(need.id, p.huge_page));
        }
      } else if (need.available && *need.available < need.bytes) {
        need.fits = false;
        const Node& n = *std::find_if(m.nodes.begin(), m.nodes.end(), [&](const Node& x) { return x.id == need.id; });
        b.problem(need.id, "NT009",
                  nn + ": its replica needs " + size_text(need.bytes) + " and " + nn + " has " +
                      size_text(*need.available) + " available (" + size_text(n.mem_free.value_or(0)) + " free, " +
                      size_text(n.file_lru.value_or(0)) +
                      " reclaimable page cache): " + size_text(need.bytes - *need.available) +
                      " short; the replica's pages land on another node (NT009), or a strict binding "
                      "(numa_alloc_onnode) fails and the OOM killer ends the load",
                  "free memory on " + nn + ", use a smaller quantization, or --strategy per-file");
      }
    }
  }

  if (o.mlock) {
    const uint64_t locked = p.bytes * static_cast<uint64_t>(p.copies);
    if (o.privileged) {
      p.unknown.push_back(
          "the mlock limit for the user who will load: numa-trace runs privileged (CAP_IPC_LOCK), "
          "for which RLIMIT_MEMLOCK does not apply");
    } else if (m.memlock_soft && *m.memlock_soft != kUnlimited && *m.memlock_soft < locked) {
      b.problem(-1, "",
                "--mlock locks " + size_text(locked) + " and RLIMIT_MEMLOCK is " + size_text(*m.memlock_soft) +
                    ": mlock fails (llama.cpp warns \"failed to mlock\" and goes on unlocked)",
                "raise the limit (ulimit -l, LimitMEMLOCK= in a systemd unit, /etc/security/limits.conf) to at "
                "least " +
                    std::to_string((locked + 1023) / 1024) + " KiB");
    }
  }

  if (m.nodes.size() > 1) {
    if (m.numa_balancing && *m.numa_balancing != 0)
      b.advice(-1, "NT009",
               "automatic NUMA balancing is on (kernel.numa_balancing=" + std::to_string(*m.numa_balancing) +
                   "): the kernel migrates pages toward the threads that touch them, which costs time and can move "
                   "replicas off their node; llama.cpp warns about it",
               "sysctl kernel.numa_balancing=0");
    if (o.strategy == Strategy::unified)
      b.advice(-1, "NT015",
               "one copy for " + std::to_string(m.nodes.size()) +
                   " nodes: threads on the nodes that do not hold it read it remotely",
               "--strategy mirror gives each node its replica (check it with numa-trace check --strategy mirror)");
  }
  if (region && !p.huge_page) {
    if (m.thp == "never")
      b.advice(-1, "",
               "transparent hugepages are off (never): the anonymous region is mapped with " + size_text(m.page_size) +
                   " pages, many TLB misses on " + size_text(p.bytes),
               "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled, or --hugetlbfs DIR");
    for (const auto& h : m.hugetlbfs)
      if (h.page_size)
        b.advice(-1, "", "hugetlbfs is mounted at " + h.dir + " (" + size_text(h.page_size) + " pages) and not used",
                 "--hugetlbfs " + h.dir + " backs the region with hugepages");
  }

  p.unknown.insert(p.unknown.end(), m.unknown.begin(), m.unknown.end());
  p.unknown.push_back(
      "which nodes the load's threads will run on: that depends on how it is started (numactl, "
      "taskset, llama.cpp's --numa)");
  p.unknown.push_back("memory other programs take or free before the load");
  if (m.nodes.size() == 1)
    p.unknown.push_back(
        "remote reads and per-node fit: this machine has one node, so every read is local; how the "
        "model fits each node of a multi-node machine can only be checked there");
  return p;
}

}  // namespace numatrace::machine
