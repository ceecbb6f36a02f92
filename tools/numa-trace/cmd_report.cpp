// numa-trace report TRACE: what a traced load did, from its binary trace:
// mappings (slot, kind, base, size, intended node, observed placement),
// placement per file and per node, resolves, findings, the crash.
#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/model/replay.h"
#include "numatrace/trace/reader.h"

namespace numatrace::cli {

namespace {

const char* state_name(uint16_t s) {
  return s == NT_STATE_LIVE ? "live" : s == NT_STATE_DESTROYED ? "destroyed" : "free";
}

const char* signal_name(int s) {
  switch (s) {
    case 11: return "SIGSEGV";
    case 7: return "SIGBUS";
    case 8: return "SIGFPE";
    case 4: return "SIGILL";
    case 6: return "SIGABRT";
  }
  return "signal";
}

// "node0 100% node1 0%" of a histogram, or "not sampled".
std::string placement_text(const uint32_t (&hist)[NT_FR_MAX_NODES], uint32_t sampled, uint32_t absent, int nodes) {
  if (!sampled) return "not sampled";
  std::string s;
  uint32_t present = sampled - absent;
  for (int n = 0; n < nodes; ++n) {
    char b[48];
    std::snprintf(b, sizeof b, "%snode%d %3.0f%%", n ? "  " : "", n, present ? 100.0 * hist[n] / present : 0.0);
    s += b;
  }
  if (absent) s += "  (" + std::to_string(absent) + " of " + std::to_string(sampled) + " pages absent)";
  return s;
}

nlohmann::ordered_json hist_json(const uint32_t (&hist)[NT_FR_MAX_NODES], uint32_t sampled, uint32_t absent,
                                 int nodes) {
  return {{"sampled_pages", sampled},
          {"absent_pages", absent},
          {"pages_per_node", std::vector<uint32_t>(hist, hist + nodes)}};
}

}  // namespace

int print_report(const ReportOptions& o) {
  auto read = trace::read_trace(o.trace);
  if (!read) {
    report(read.error());
    return kUsage;  // a trace that cannot be read at all
  }
  const trace::Trace& t = *read;

  auto tables = std::make_unique<model::Recorder>();
  model::Replayer replay(*tables);
  std::vector<nt_fr_finding> offline;
  auto on = [&](const nt_fr_finding& f) { offline.push_back(f); };
  std::map<int32_t, uint64_t> resolves_per_file, bytes_per_file;
  std::map<int, uint64_t> resolves_per_node;
  std::set<uint32_t> threads;
  std::string model_path;
  uint64_t first_ns = 0, last_ns = 0;
  for (const auto& e : t.events) {
    replay.feed(e, on);
    if (e.type == NT_EV_RESOLVE) {
      resolves_per_file[e.file_idx]++;
      bytes_per_file[e.file_idx] += e.b;
      resolves_per_node[e.node]++;
      threads.insert(e.tid);
    }
    if (e.type == NT_EV_MODEL_BEGIN && t.strings.count(e.seq)) model_path = t.strings.at(e.seq);
    if (first_ns == 0) first_ns = t.ns(e.tsc);
    last_ns = t.ns(e.tsc);
  }
  replay.flush_create(on);
  const model::Recorder& r = replay.tables();
  int nodes = 1;
  for (uint32_t i = 0; i < model::mapping_count(r); ++i) {
    nodes = std::max(nodes, r.mappings[i].node + 1);
    for (int n = 0; n < NT_FR_MAX_NODES; ++n)
      if (r.mappings[i].placement[n]) nodes = std::max(nodes, n + 1);
  }
  for (const auto& [node, count] : resolves_per_node) nodes = std::max(nodes, node + 1);
  std::map<std::string, std::pair<uint64_t, const trace::RecordedFinding*>> by_code;
  for (const auto& f : t.findings) {
    auto& slot = by_code[model::code_info(f.finding.code).id];
    if (slot.first++ == 0) slot.second = &f;
  }
  const bool problems = !t.findings.empty() || t.crash;

  if (o.json) {
    nlohmann::ordered_json j;
    j["trace"] = t.path;
    j["pid"] = t.header.pid;
    j["complete"] = t.complete;
    if (t.stopped) j["stopped"] = t.stopped->str();
    j["events"] = t.events.size();
    j["duration_ns"] = last_ns - first_ns;
    j["model"] = model_path;
    j["files"] = r.n_files;
    j["mappings"] = nlohmann::ordered_json::array();
    for (uint32_t i = 0; i < model::mapping_count(r); ++i) {
      const auto& m = r.mappings[i];
      nlohmann::ordered_json jm = {
          {"slot", m.slot},
          {"kind", model::kind_name(m.kind)},
          {"state", state_name(m.state)},
          {"base", cli::hex(m.base)},
          {"length", m.length},
          {"intended_node", m.node},
          {"flags", m.flags},
          {"placement", hist_json(m.placement, m.placement_sampled, m.placement_absent, nodes)}};
      jm["extents"] = nlohmann::ordered_json::array();
      for (uint32_t k = 0; k < m.n_extents; ++k) {
        const auto& x = r.extents[m.first_extent + k];
        jm["extents"].push_back(
            {{"file_idx", x.file_idx},
             {"offset", x.offset},
             {"length", x.length},
             {"placement", hist_json(x.placement, x.placement_sampled, x.placement_absent, nodes)}});
      }
      j["mappings"].push_back(jm);
    }
    j["resolves"] = nlohmann::ordered_json::array();
    for (const auto& [file, count] : resolves_per_file)
      j["resolves"].push_back({{"file_idx", file}, {"count", count}, {"bytes", bytes_per_file[file]}});
    j["resolves_by_thread_node"] = nlohmann::ordered_json::object();
    for (const auto& [node, count] : resolves_per_node) j["resolves_by_thread_node"][std::to_string(node)] = count;
    j["threads"] = threads.size();
    j["findings"] = nlohmann::ordered_json::array();
    for (const auto& [code, v] : by_code)
      j["findings"].push_back(
          {{"code", code}, {"count", v.first}, {"first", v.second->text}, {"first_seq", v.second->finding.seq}});
    if (t.crash)
      j["crash"] = {{"signal", t.crash->signal},
                    {"fault_address", cli::hex(t.crash->fault_address)},
                    {"tid", t.crash->tid},
                    {"pcs", t.crash->n_pcs}};
    uint64_t dropped = 0;
    for (const auto& d : t.dropped) dropped += d.count;
    j["dropped_events"] = dropped;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("trace %s: pid %u, %zu events over %.1f ms%s\n", t.path.c_str(), t.header.pid, t.events.size(),
                static_cast<double>(last_ns - first_ns) / 1e6, t.complete ? "" : " (cut short: no summary record)");
    if (t.stopped) std::printf("  reading stopped early: %s\n", t.stopped->str().c_str());
    if (!model_path.empty()) std::printf("model %s (%u files)\n", model_path.c_str(), r.n_files);
    std::printf("\nmappings\n %4s  %-8s %4s  %-14s %12s  %-9s  %s\n", "slot", "kind", "node", "base", "size", "state",
                "placement (sampled pages per node)");
    for (uint32_t i = 0; i < model::mapping_count(r); ++i) {
      const auto& m = r.mappings[i];
      std::printf(" %4d  %-8s %4s  %-14s %12s  %-9s  %s\n", m.slot, model::kind_name(m.kind),
                  m.node >= 0 ? std::to_string(m.node).c_str() : "-", cli::hex(m.base).c_str(),
                  human_bytes(m.length).c_str(), state_name(m.state),
                  placement_text(m.placement, m.placement_sampled, m.placement_absent, nodes).c_str());
    }
    bool any_extent = false;
    for (uint32_t i = 0; i < model::mapping_count(r); ++i) any_extent |= r.mappings[i].n_extents > 0;
    if (any_extent) {
      std::printf("\nplacement per file (inside unified and replica mappings)\n %4s  %4s %4s  %12s  %s\n", "file",
                  "slot", "node", "offset", "placement");
      for (uint32_t i = 0; i < model::mapping_count(r); ++i) {
        const auto& m = r.mappings[i];
        for (uint32_t k = 0; k < m.n_extents; ++k) {
          const auto& x = r.extents[m.first_extent + k];
          std::printf(" %4d  %4d %4s  %12s  %s\n", x.file_idx, m.slot,
                      m.node >= 0 ? std::to_string(m.node).c_str() : "-", ("+" + cli::hex(x.offset)).c_str(),
                      placement_text(x.placement, x.placement_sampled, x.placement_absent, nodes).c_str());
        }
      }
    }
    if (!resolves_per_file.empty()) {
      uint64_t total = 0;
      for (const auto& [f, c] : resolves_per_file) total += c;
      std::printf("\nresolves: %llu by %zu thread%s\n", static_cast<unsigned long long>(total), threads.size(),
                  threads.size() == 1 ? "" : "s");
      for (const auto& [file, count] : resolves_per_file)
        std::printf("  file %d: %llu tensors, %s\n", file, static_cast<unsigned long long>(count),
                    human_bytes(bytes_per_file[file]).c_str());
      std::printf("  by the node of the resolving thread:");
      for (const auto& [node, count] : resolves_per_node)
        std::printf(" node%d %llu", node, static_cast<unsigned long long>(count));
      std::printf("\n");
    }
    uint64_t dropped = 0;
    for (const auto& d : t.dropped) dropped += d.count;
    if (dropped)
      std::printf("\n%llu events were lost by the sink (the ring lapped it)\n",
                  static_cast<unsigned long long>(dropped));
    if (by_code.empty()) {
      std::printf("\nfindings: none\n");
    } else {
      std::printf("\nfindings\n");
      for (const auto& [code, v] : by_code)
        std::printf("  %s x%llu, first: %s\n", code.c_str(), static_cast<unsigned long long>(v.first),
                    v.second->text.c_str());
    }
    if (t.crash)
      std::printf("\ncrash: %s at fault address %s in thread %u (%u frames captured; the core has the rest)\n",
                  signal_name(t.crash->signal), cli::hex(t.crash->fault_address).c_str(), t.crash->tid, t.crash->n_pcs);
  }
  return problems ? kProblems : kOk;
}

Command add_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* sub = app.add_subcommand(
      "report",
      "Summarize a binary trace (NUMA_TRACE=file:PATH): every mapping with its slot, kind, base, size, intended node "
      "and the placement of its pages; placement per file inside unified and replica mappings; resolves per file and "
      "per node; findings grouped by code with the first of each; the crash. Exit 0 nothing wrong, 1 findings or a "
      "crash, 2 the trace cannot be read.");
  sub->add_option("trace", o->trace, "The binary trace file")->required();
  sub->add_flag("--json", o->json, "Print JSON instead of tables");
  return {sub, [o] { return print_report(*o); }};
}

}  // namespace numatrace::cli
