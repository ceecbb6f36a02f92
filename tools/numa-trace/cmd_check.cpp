// numa-trace check: before a load, whether a model fits this machine with a
// strategy, node by node (lib/machine, docs/check.md).
#include <unistd.h>

#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/gguf/model.h"
#include "numatrace/machine/plan.h"

namespace numatrace::cli {

namespace {

struct CheckOptions {
  std::string model;
  std::string strategy = "per-file";
  std::string hugetlbfs;
  bool mlock = false;
  bool json = false;
  std::string sys = "/sys", proc = "/proc";
};

std::string opt_bytes(const std::optional<uint64_t>& v) {
  return v ? human_bytes(*v) : "?";
}

std::string limit_text(const std::optional<uint64_t>& v) {
  if (!v) return "?";
  return *v == machine::kUnlimited ? "unlimited" : human_bytes(*v);
}

nlohmann::ordered_json opt_json(const std::optional<uint64_t>& v) {
  return v ? nlohmann::ordered_json(*v) : nlohmann::ordered_json();
}

nlohmann::ordered_json check_json(const machine::ModelFacts& model, const machine::Machine& m,
                                  const std::vector<machine::CachePlacement>& cache, const machine::Plan& p) {
  nlohmann::ordered_json j;
  j["model"] = model.path;
  j["splits"] = nlohmann::ordered_json::array();
  for (size_t i = 0; i < model.files.size(); ++i) {
    const auto& c = cache[i];
    nlohmann::ordered_json pc = {{"pages", c.pages},
                                 {"resident_pages", c.resident},
                                 {"sampled_pages", c.sampled},
                                 {"sampled_per_node", c.per_node}};
    if (!c.error.empty()) pc["error"] = c.error;
    j["splits"].push_back({{"file_idx", i}, {"path", model.files[i]}, {"size", model.sizes[i]}, {"page_cache", pc}});
  }
  j["total_bytes"] = model.total;
  j["unified_region_bytes"] = model.region;
  j["strategy"] = machine::strategy_name(p.strategy);
  j["bytes_per_copy"] = p.bytes;
  j["copies"] = p.copies;
  j["huge_page_size"] = p.huge_page;
  j["hugepages_per_copy"] = p.hugepages;
  nlohmann::ordered_json mj;
  mj["numa_sysfs"] = m.numa_sysfs;
  mj["nodes"] = nlohmann::ordered_json::array();
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const auto& n = m.nodes[k];
    const auto& need = p.nodes[k];
    nlohmann::ordered_json pools = nlohmann::ordered_json::array();
    for (const auto& h : n.huge) pools.push_back({{"page_size", h.page_size}, {"total", h.total}, {"free", h.free}});
    mj["nodes"].push_back({{"node", n.id},
                           {"cpus", n.cpus},
                           {"mem_total", opt_json(n.mem_total)},
                           {"mem_free", opt_json(n.mem_free)},
                           {"reclaimable_page_cache", opt_json(n.file_lru)},
                           {"available", opt_json(n.available())},
                           {"hugepages", pools},
                           {"needs_bytes", need.bytes},
                           {"needs_hugepages", need.hugepages},
                           {"fits", need.fits}});
  }
  mj["numa_balancing"] = m.numa_balancing ? nlohmann::ordered_json(*m.numa_balancing) : nlohmann::ordered_json();
  mj["transparent_hugepages"] = m.thp.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(m.thp);
  mj["memlock_soft"] = opt_json(m.memlock_soft);
  mj["memlock_hard"] = opt_json(m.memlock_hard);
  mj["hugetlbfs"] = nlohmann::ordered_json::array();
  for (const auto& h : m.hugetlbfs)
    mj["hugetlbfs"].push_back({{"dir", h.dir},
                               {"page_size", h.page_size},
                               {"limit_pages", opt_json(h.limit)},
                               {"free_pages", opt_json(h.free)}});
  j["machine"] = mj;
  auto items = [&](machine::Item::Level level) {
    auto a = nlohmann::ordered_json::array();
    for (const auto& i : p.items)
      if (i.level == level) a.push_back({{"node", i.node}, {"code", i.code}, {"what", i.what}, {"fix", i.fix}});
    return a;
  };
  j["fits"] = p.fits();
  j["problems"] = items(machine::Item::problem);
  j["advice"] = items(machine::Item::advice);
  j["unknown"] = p.unknown;
  return j;
}

void print_check(const machine::ModelFacts& model, const machine::Machine& m,
                 const std::vector<machine::CachePlacement>& cache, const machine::Plan& p) {
  std::printf("model %s: %zu split%s, %s; unified region %s\n", printable(model.path).c_str(), model.files.size(),
              model.files.size() == 1 ? "" : "s", human_bytes(model.total).c_str(), human_bytes(model.region).c_str());
  std::printf("strategy %s: ", machine::strategy_name(p.strategy));
  if (p.strategy == machine::Strategy::per_file)
    std::printf("each split mapped from the page cache (%s)", human_bytes(p.bytes).c_str());
  else if (p.strategy == machine::Strategy::unified)
    std::printf("one region of %s", human_bytes(p.bytes).c_str());
  else
    std::printf("a replica of %s on each of %d node%s", human_bytes(p.bytes).c_str(), p.copies,
                p.copies == 1 ? "" : "s");
  if (p.huge_page)
    std::printf(" (%llu hugepages of %s each)", static_cast<unsigned long long>(p.hugepages),
                human_bytes(p.huge_page).c_str());
  std::printf("\n\n%4s  %-8s %12s %12s %12s", "node", "cpus", "free", "reclaimable", "available");
  if (p.huge_page) std::printf(" %16s", ("hugepages " + human_bytes(p.huge_page)).c_str());
  std::printf("  %s\n", "needs");
  for (size_t k = 0; k < m.nodes.size(); ++k) {
    const auto& n = m.nodes[k];
    const auto& need = p.nodes[k];
    std::printf("%4d  %-8s %12s %12s %12s", n.id, n.cpus.empty() ? "?" : n.cpus.c_str(), opt_bytes(n.mem_free).c_str(),
                opt_bytes(n.file_lru).c_str(), opt_bytes(n.available()).c_str());
    if (p.huge_page) {
      const machine::HugePool* pool = n.pool(p.huge_page);
      std::string h = pool ? std::to_string(pool->free) + " free of " + std::to_string(pool->total) : "none";
      std::printf(" %16s", h.c_str());
    }
    std::string needs = need.hugepages ? std::to_string(need.hugepages) + " hugepages"
                        : need.bytes   ? human_bytes(need.bytes)
                                       : "-";
    std::printf("  %s%s\n", needs.c_str(), need.fits ? "" : "  DOES NOT FIT");
  }
  std::printf("\nmachine: numa_balancing %s, transparent hugepages %s, RLIMIT_MEMLOCK %s (hard %s)",
              m.numa_balancing ? std::to_string(*m.numa_balancing).c_str() : "?", m.thp.empty() ? "?" : m.thp.c_str(),
              limit_text(m.memlock_soft).c_str(), limit_text(m.memlock_hard).c_str());
  for (const auto& h : m.hugetlbfs) {
    std::printf(", hugetlbfs %s (%s pages", printable(h.dir).c_str(),
                h.page_size ? human_bytes(h.page_size).c_str() : "?");
    if (h.free)
      std::printf(", %llu of %llu free", static_cast<unsigned long long>(*h.free),
                  static_cast<unsigned long long>(*h.limit));
    std::printf(")");
  }
  std::printf("\npage cache of the splits:\n");
  for (size_t i = 0; i < cache.size(); ++i) {
    const auto& c = cache[i];
    std::printf("  file %zu: ", i);
    if (!c.error.empty()) {
      std::printf("not read (%s)\n", c.error.c_str());
      continue;
    }
    std::printf("%llu%% resident", static_cast<unsigned long long>(c.pages ? c.resident * 100 / c.pages : 0));
    for (size_t k = 0; k < c.per_node.size(); ++k)
      if (c.sampled)
        std::printf("  node%zu %llu%%", k, static_cast<unsigned long long>(c.per_node[k] * 100 / c.sampled));
    std::printf("\n");
  }
  auto list = [&](machine::Item::Level level, const char* title) {
    bool any = false;
    for (const auto& i : p.items) {
      if (i.level != level) continue;
      if (!any) std::printf("\n%s\n", title);
      any = true;
      std::printf("  %s%s\n", i.code.empty() ? "" : (i.code + " ").c_str(), printable(i.what).c_str());
      if (!i.fix.empty()) std::printf("    fix: %s\n", printable(i.fix).c_str());
    }
  };
  list(machine::Item::problem, "problems (the load would fail or misplace memory)");
  list(machine::Item::advice, "advice");
  std::printf("\ncannot know\n");
  for (const auto& u : p.unknown) std::printf("  %s\n", printable(u).c_str());
  size_t n_problems = 0;
  for (const auto& i : p.items) n_problems += i.level == machine::Item::problem;
  if (p.fits())
    std::printf("\nverdict: the %s load fits this machine\n", machine::strategy_name(p.strategy));
  else
    std::printf("\nverdict: the %s load does not fit this machine (%zu problem%s)\n",
                machine::strategy_name(p.strategy), n_problems, n_problems == 1 ? "" : "s");
}

int run_check(const CheckOptions& o) {
  auto opened = gguf::open_model(o.model);
  if (!opened) return unusable(opened.error());
  const gguf::Model& gm = *opened;
  if (!gm.all_read() || !gm.valid()) return unusable(gm.problems.front());
  machine::ModelFacts model;
  model.path = o.model;
  for (const auto& f : gm.files) {
    model.files.push_back(f.path);
    model.sizes.push_back(f.file_size);
    model.total += f.file_size;
  }
  auto layout =
      gguf::unified_layout(model.sizes, gguf::Packing::page_aligned, static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  if (!layout) return unusable(layout.error());
  model.region = layout->total;

  machine::PlanOptions po;
  gguf::parse_strategy(o.strategy, po.strategy);  // one of the three: the option checks it
  po.hugetlbfs = o.hugetlbfs;
  po.mlock = o.mlock;
  po.privileged = geteuid() == 0;
  const machine::Machine m = machine::read_machine({o.sys, o.proc});
  std::vector<machine::CachePlacement> cache;
  for (const auto& f : model.files) cache.push_back(machine::page_cache_placement(f));
  const machine::Plan p = machine::check_plan(model, m, cache, po);
  if (o.json)
    std::printf("%s\n", json_text(check_json(model, m, cache, p)).c_str());
  else
    print_check(model, m, cache, p);
  return p.fits() ? kOk : kProblems;
}

}  // namespace

Command add_check(CLI::App& app) {
  auto o = std::make_shared<CheckOptions>();
  auto* sub = app.add_subcommand(
      "check",
      "Before a load: whether MODEL fits this machine with a strategy, node by node. Reads the splits, each node's "
      "free and reclaimable memory and hugepages, RLIMIT_MEMLOCK, kernel.numa_balancing, transparent hugepages, "
      "hugetlbfs mounts and where the page cache holds the splits now; says what will fail and why (with the "
      "finding the load would raise), what to change, and what it cannot know. Exit 0 fits, 1 problems, 2 the "
      "model or the arguments cannot be used.");
  sub->add_option("model", o->model, "Any split's path, a single-file model, or the split prefix")->required();
  sub->add_option("--strategy", o->strategy,
                  "per-file (each split mapped), unified (one region), mirror (one region per node)")
      ->check(CLI::IsMember({"per-file", "unified", "mirror"}))
      ->default_val("per-file");
  sub->add_option("--hugetlbfs", o->hugetlbfs, "Back unified or mirror regions with this hugetlbfs mount's pages");
  sub->add_flag("--mlock", o->mlock, "The load locks the model in memory (llama.cpp --mlock)");
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_option("--sysfs", o->sys, "Read the machine's facts from this tree instead of /sys")->default_val("/sys");
  sub->add_option("--procfs", o->proc, "Read the machine's facts from this tree instead of /proc")
      ->default_val("/proc");
  return {sub, [o] { return run_check(*o); }};
}

}  // namespace numatrace::cli
