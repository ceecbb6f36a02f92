// How `numa-trace report` shows a trace: tables for people, JSON for
// programs, from the same summary (trace_summary.h).
#include "render_report.h"

#include <algorithm>
#include <cstdio>
#include <string>

#include "cli.h"
#include "numatrace/codec.h"
#include "numatrace/postmortem/postmortem.h"

namespace numatrace::cli {

namespace {

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

// The remote-read cells (NT015's numbers), in mapping order.
std::vector<rules::RemoteCell> remote_cells(const TraceSummary& s) {
  std::vector<rules::RemoteCell> cells;
  rules::for_each_remote_cell(*s.tables, *s.remote, [&](const rules::RemoteCell& c) { cells.push_back(c); });
  return cells;
}

std::string pct(uint64_t part, uint64_t whole) {
  return std::to_string(whole ? part * 100 / whole : 0) + "%";
}

}  // namespace

nlohmann::ordered_json report_json(const trace::Trace& t, const TraceSummary& s) {
  const rules::Recorder& r = *s.tables;
  nlohmann::ordered_json j;
  j["trace"] = t.path;
  j["pid"] = t.header.pid;
  j["complete"] = t.complete;
  if (t.stopped) j["stopped"] = t.stopped->str();
  j["events"] = t.events.size();
  j["duration_ns"] = s.last_ns - s.first_ns;
  j["model"] = s.model_path;
  j["files"] = r.n_files;
  j["opened_files"] = nlohmann::ordered_json::array();
  for (const auto& [f, path] : s.file_paths) j["opened_files"].push_back({{"file_idx", f}, {"path", path}});
  j["mappings"] = nlohmann::ordered_json::array();
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
    const auto& m = r.mappings[i];
    nlohmann::ordered_json jm = {
        {"slot", m.slot},
        {"kind", format::kind_name(m.kind)},
        {"state", format::state_name(m.state)},
        {"base", hex(m.base)},
        {"length", m.length},
        {"intended_node", m.node},
        {"flags", m.flags},
        {"placement", hist_json(m.placement, m.placement_sampled, m.placement_absent, s.nodes)}};
    jm["files"] = nlohmann::ordered_json::array();
    for (int32_t f : s.files_of(m)) jm["files"].push_back({{"file_idx", f}, {"path", s.path_of(f)}});
    jm["extents"] = nlohmann::ordered_json::array();
    for (uint32_t k = 0; k < m.n_extents; ++k) {
      const auto& x = r.extents[m.first_extent + k];
      jm["extents"].push_back(
          {{"file_idx", x.file_idx},
           {"offset", x.offset},
           {"length", x.length},
           {"placement", hist_json(x.placement, x.placement_sampled, x.placement_absent, s.nodes)}});
    }
    j["mappings"].push_back(jm);
  }
  j["reads"] = nlohmann::ordered_json::array();
  for (const auto& [file, rd] : s.reads) {
    auto by_node = nlohmann::ordered_json::object();
    for (const auto& [node, bytes] : rd.bytes_by_page_node)
      by_node[node >= 0 ? std::to_string(node) : "unknown"] = bytes;
    j["reads"].push_back(
        {{"file_idx", file}, {"count", rd.count}, {"bytes", rd.bytes}, {"bytes_by_page_node", by_node}});
  }
  j["resolves"] = nlohmann::ordered_json::array();
  for (const auto& [file, count] : s.resolves_per_file)
    j["resolves"].push_back({{"file_idx", file}, {"count", count}, {"bytes", s.bytes_per_file.at(file)}});
  j["resolves_by_thread_node"] = nlohmann::ordered_json::object();
  for (const auto& [node, count] : s.resolves_per_node) j["resolves_by_thread_node"][std::to_string(node)] = count;
  j["threads"] = s.threads.size();
  {
    const rules::RemoteTotals rt = rules::remote_totals(*s.tables, *s.remote);
    nlohmann::ordered_json rr = {{"threshold_pct", s.remote_threshold_pct},
                                 {"bytes", rt.bytes},
                                 {"remote_bytes", rt.remote},
                                 {"remote_pct", rt.bytes ? rt.remote * 100 / rt.bytes : 0},
                                 {"not_sampled_bytes", rt.not_sampled},
                                 {"unknown_node_bytes", rt.unknown_node},
                                 {"unattributed_bytes", s.remote->unattributed}};
    rr["cells"] = nlohmann::ordered_json::array();
    for (const auto& c : remote_cells(s)) {
      const auto& m = s.tables->mappings[c.mapping];
      rr["cells"].push_back({{"file_idx", c.file_idx},
                             {"slot", m.slot},
                             {"kind", format::kind_name(m.kind)},
                             {"mapping_node", m.node},
                             {"reader_node", c.reader_node},
                             {"bytes", c.bytes},
                             {"remote_bytes", c.remote},
                             {"sampled", c.sampled},
                             {"home_node", c.home_node}});
    }
    j["remote_reads"] = rr;
  }
  j["timeline"] = nlohmann::ordered_json::array();
  for (const char* name : kPhaseOrder)
    if (s.phases.count(name))
      j["timeline"].push_back({{"phase", name},
                               {"count", s.phases.at(name).count},
                               {"first_ns", s.phases.at(name).first},
                               {"last_ns", s.phases.at(name).last}});
  j["findings"] = nlohmann::ordered_json::array();
  for (const auto& [code, g] : s.by_code)
    j["findings"].push_back({{"code", code},
                             {"count", g.count},
                             {"replay_only", g.replay_only},
                             {"first", g.first->text},
                             {"first_seq", g.first->finding.seq}});
  if (t.crash)
    j["crash"] = {{"signal", t.crash->signal},
                  {"fault_address", hex(t.crash->fault_address)},
                  {"tid", t.crash->tid},
                  {"pcs", t.crash->n_pcs}};
  j["dropped_events"] = s.dropped;
  return j;
}

void print_report_text(const trace::Trace& t, const TraceSummary& s) {
  const rules::Recorder& r = *s.tables;
  std::printf("trace %s: pid %u, %zu events over %.1f ms%s\n", printable(t.path).c_str(), t.header.pid, t.events.size(),
              static_cast<double>(s.last_ns - s.first_ns) / 1e6, t.complete ? "" : " (cut short: no summary record)");
  if (t.stopped) std::printf("  reading stopped early: %s\n", t.stopped->str().c_str());
  if (!s.model_path.empty()) std::printf("model %s (%u files)\n", printable(s.model_path).c_str(), r.n_files);
  if (rules::mapping_count(r) == 0 && !s.file_paths.empty()) {
    // Loaded without mmap (llama.cpp's use_mmap = false s.reads into its own
    // buffers): say so rather than show an empty table.
    std::printf("\n%zu split%s opened, none mapped: the program read %s into its own memory (no mmap)\n",
                s.file_paths.size(), s.file_paths.size() == 1 ? "" : "s", s.file_paths.size() == 1 ? "it" : "them");
    for (const auto& [f, path] : s.file_paths) std::printf("  file %d: %s\n", f, printable(path).c_str());
  } else {
    std::printf("\nmappings\n %4s  %-8s %4s  %-14s %12s  %-9s  %-34s  %s\n", "slot", "kind", "node", "base", "size",
                "state", "placement (sampled pages per node)", "files");
  }
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
    const auto& m = r.mappings[i];
    auto files = s.files_of(m);
    std::string ft;
    if (files.size() == 1)
      ft = std::to_string(files[0]) + (s.path_of(files[0]).empty() ? "" : " " + s.path_of(files[0]));
    else if (!files.empty())
      ft = std::to_string(files.front()) + "-" + std::to_string(files.back());
    std::printf(" %4d  %-8s %4s  %-14s %12s  %-9s  %-34s  %s\n", m.slot, format::kind_name(m.kind),
                m.node >= 0 ? std::to_string(m.node).c_str() : "-", hex(m.base).c_str(), human_bytes(m.length).c_str(),
                format::state_name(m.state),
                placement_text(m.placement, m.placement_sampled, m.placement_absent, s.nodes).c_str(),
                printable(ft).c_str());
  }
  if (!s.reads.empty()) {
    std::printf("\nreads into the program's memory (no mmap), by the node of the destination pages\n");
    for (const auto& [file, rd] : s.reads) {
      std::string by_node;
      for (const auto& [node, bytes] : rd.bytes_by_page_node)
        by_node += (node >= 0 ? "  node" + std::to_string(node) : std::string("  node?")) + " " +
                   std::to_string(bytes * 100 / std::max<uint64_t>(rd.bytes, 1)) + "%";
      std::printf("  file %d: %llu reads, %s%s\n", file, static_cast<unsigned long long>(rd.count),
                  human_bytes(rd.bytes).c_str(), by_node.c_str());
    }
  }
  bool any_extent = false;
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) any_extent |= r.mappings[i].n_extents > 0;
  if (any_extent) {
    std::printf("\nplacement per file (inside unified and replica mappings)\n %4s  %4s %4s  %12s  %s\n", "file", "slot",
                "node", "offset", "placement");
    for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
      const auto& m = r.mappings[i];
      for (uint32_t k = 0; k < m.n_extents; ++k) {
        const auto& x = r.extents[m.first_extent + k];
        std::printf(" %4d  %4d %4s  %12s  %s\n", x.file_idx, m.slot, m.node >= 0 ? std::to_string(m.node).c_str() : "-",
                    ("+" + hex(x.offset)).c_str(),
                    placement_text(x.placement, x.placement_sampled, x.placement_absent, s.nodes).c_str());
      }
    }
  }
  if (!s.resolves_per_file.empty()) {
    uint64_t total = 0;
    for (const auto& [f, c] : s.resolves_per_file) total += c;
    std::printf("\nresolves: %llu by %zu thread%s\n", static_cast<unsigned long long>(total), s.threads.size(),
                s.threads.size() == 1 ? "" : "s");
    for (const auto& [file, count] : s.resolves_per_file)
      std::printf("  file %d: %llu tensors, %s\n", file, static_cast<unsigned long long>(count),
                  human_bytes(s.bytes_per_file.at(file)).c_str());
    std::printf("  by the node of the resolving thread:");
    for (const auto& [node, count] : s.resolves_per_node)
      std::printf(" node%d %llu", node, static_cast<unsigned long long>(count));
    std::printf("\n");
  }
  const rules::RemoteTotals rt = rules::remote_totals(r, *s.remote);
  if (rt.bytes || rt.not_sampled || rt.unknown_node) {
    std::printf(
        "\nremote reads (bytes resolved by threads of each node; remote: on another node, estimated from the "
        "placement sample)\n");
    for (const auto& c : remote_cells(s)) {
      const auto& m = r.mappings[c.mapping];
      std::string where = std::string(format::kind_name(m.kind)) + " slot " + std::to_string(m.slot);
      if (m.kind == NT_KIND_REPLICA) where += " (node " + std::to_string(m.node) + ")";
      std::string reader = c.reader_node >= 0 ? "node" + std::to_string(c.reader_node) : "node?";
      std::string verdict = c.reader_node < 0 ? "thread's node unknown"
                            : !c.sampled      ? "pages not sampled"
                                              : pct(c.remote, c.bytes) + " remote";
      if (c.sampled && c.home_node >= 0) verdict += ", pages mostly on node " + std::to_string(c.home_node);
      std::printf("  file %-3d %-24s by %-6s %10s  %s\n", c.file_idx, where.c_str(), reader.c_str(),
                  human_bytes(c.bytes).c_str(), verdict.c_str());
    }
    std::printf("  in all: %s of %s remote (threshold %u%%)", pct(rt.remote, rt.bytes).c_str(),
                human_bytes(rt.bytes).c_str(), s.remote_threshold_pct);
    if (rt.not_sampled) std::printf("; %s of pages never sampled", human_bytes(rt.not_sampled).c_str());
    if (rt.unknown_node) std::printf("; %s by threads of unknown node", human_bytes(rt.unknown_node).c_str());
    std::printf("\n");
  }
  if (!s.phases.empty()) {
    std::printf("\ntimeline (ms from the start of the trace)\n");
    for (const char* name : kPhaseOrder) {
      if (!s.phases.count(name)) continue;
      const TraceSummary::Phase& p = s.phases.at(name);
      std::printf("  %-20s %9.3f", name, static_cast<double>(p.first) / 1e6);
      if (p.count > 1)
        std::printf(" .. %9.3f  (%llu)", static_cast<double>(p.last) / 1e6, static_cast<unsigned long long>(p.count));
      if (std::string(name) == "tensors resolved" && p.last > p.first)
        std::printf("  %s at %.0f MiB/s", human_bytes(s.resolved_bytes).c_str(),
                    static_cast<double>(s.resolved_bytes) / (1 << 20) / (static_cast<double>(p.last - p.first) / 1e9));
      std::printf("\n");
    }
    if (!t.summary && t.header.clock != NT_TRACE_CLOCK_NS)
      std::printf("  (no summary record: times assume a 2.5 GHz counter)\n");
  }
  const uint64_t dropped = s.dropped;
  if (dropped)
    std::printf("\n%llu events were lost by the sink (the ring lapped it)\n", static_cast<unsigned long long>(dropped));
  if (s.by_code.empty()) {
    std::printf("\nfindings: none\n");
  } else {
    std::printf("\nfindings\n");
    for (const auto& [code, g] : s.by_code)
      std::printf(
          "  %s x%llu%s, first: %s\n", code.c_str(), static_cast<unsigned long long>(g.count),
          g.replay_only ? (" (" + std::to_string(g.replay_only) + " found on replay, not recorded)").c_str() : "",
          printable(g.first->text).c_str());
  }
  if (t.crash)
    std::printf("\ncrash: %s at fault address %s in thread %u (%u frames captured; the core has the rest)\n",
                postmortem::signal_text(t.crash->signal).c_str(), hex(t.crash->fault_address).c_str(), t.crash->tid,
                t.crash->n_pcs);
}

}  // namespace numatrace::cli
