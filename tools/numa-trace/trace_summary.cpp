// The numbers a report shows, computed once from a trace: its events
// replayed through the rule engine, resolves and reads per file and node,
// the timeline, findings grouped by code (trace_summary.h).
#include "trace_summary.h"

#include <algorithm>

#include "numatrace/rules/replay.h"

namespace numatrace::cli {

std::vector<int32_t> TraceSummary::files_of(const nt_fr_mapping& m) const {
  std::vector<int32_t> idx;
  for (uint32_t k = 0; k < m.n_extents; ++k) idx.push_back(tables->extents[m.first_extent + k].file_idx);
  if (idx.empty() && m.kind == NT_KIND_PER_FILE && m.slot >= 0) idx.push_back(m.slot);
  return idx;
}

std::string TraceSummary::path_of(int32_t f) const {
  auto it = file_paths.find(f);
  return it == file_paths.end() ? std::string() : it->second;
}

TraceSummary summarize(const trace::Trace& t, uint32_t remote_threshold_pct) {
  TraceSummary out;
  out.tables = std::make_unique<rules::Recorder>();
  out.remote = std::make_unique<rules::RemoteReads>();
  out.remote_threshold_pct = remote_threshold_pct;
  rules::Replayer replay(*out.tables);
  replay.track_remote(*out.remote, remote_threshold_pct);
  auto& resolves_per_file = out.resolves_per_file;
  auto& bytes_per_file = out.bytes_per_file;
  auto& resolves_per_node = out.resolves_per_node;
  auto& threads = out.threads;
  auto& model_path = out.model_path;
  auto& file_paths = out.file_paths;
  auto& reads = out.reads;
  auto& first_ns = out.first_ns;
  auto& last_ns = out.last_ns;
  auto& phases = out.phases;
  auto& resolved_bytes = out.resolved_bytes;
  auto& nodes = out.nodes;
  auto& replayed = out.replayed;
  auto& synthesized = out.synthesized;
  auto& by_code = out.by_code;
  using Reads = TraceSummary::Reads;
  using Group = TraceSummary::Group;

  std::vector<nt_fr_finding> offline;
  auto on = [&](const nt_fr_finding& f) { offline.push_back(f); };
  for (const auto& e : t.events) {
    replay.feed(e, on);
    if (e.type == NT_EV_RESOLVE) {
      resolves_per_file[e.file_idx]++;
      bytes_per_file[e.file_idx] += e.b;
      resolves_per_node[e.node]++;
      threads.insert(e.tid);
    }
    if (e.type == NT_EV_MODEL_BEGIN && t.strings.count(e.seq)) model_path = t.strings.at(e.seq);
    if (e.type == NT_EV_FILE_OPEN && t.strings.count(e.seq)) file_paths[e.file_idx] = t.strings.at(e.seq);
    if (e.type == NT_EV_READ) {
      Reads& rd = reads[e.file_idx];
      rd.count++;
      rd.bytes += e.b;
      rd.bytes_by_page_node[e.page_node >= 0 ? e.page_node : -1] += e.b;
    }
    // A counter that went backwards (another CPU's unsynchronized TSC, a
    // corrupt record) must not make the span negative.
    const uint64_t ns = t.ns(e.tsc);
    first_ns = std::min(first_ns, ns);
    last_ns = std::max(last_ns, ns);
  }
  if (first_ns > last_ns) first_ns = last_ns;  // no events
  replay.flush_create(on);
  replay.judge_remote(on);  // a load without a model end (the interposer's)
  const rules::Recorder& r = replay.tables();
  // Load timeline: when each phase happened, from the start of the trace.
  for (const auto& e : t.events) {
    const uint64_t ns = t.ns(e.tsc);
    switch (e.type) {
      case NT_EV_MODEL_BEGIN: phases["model begin"].add(ns); break;
      case NT_EV_CREATE: phases["mappings created"].add(ns); break;
      case NT_EV_READ: phases["splits read"].add(ns); break;
      case NT_EV_RESOLVE:
        phases["tensors resolved"].add(ns);
        resolved_bytes += e.b;
        break;
      case NT_EV_UNMAP: phases["fragments unmapped"].add(ns); break;
      case NT_EV_MODEL_END: phases["model end"].add(ns); break;
      case NT_EV_DESTROY: phases["mappings destroyed"].add(ns); break;
      case NT_EV_CRASH: phases["crash"].add(ns); break;
      default: break;
    }
  }
  for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
    nodes = std::max(nodes, r.mappings[i].node + 1);
    for (int n = 0; n < NT_FR_MAX_NODES; ++n)
      if (r.mappings[i].placement[n]) nodes = std::max(nodes, n + 1);
  }
  for (const auto& [node, count] : resolves_per_node) nodes = std::max(nodes, node + 1);
  // Placement histograms hold NT_FR_MAX_NODES nodes; a node number beyond
  // that (a corrupt or hostile trace) is shown as itself, never read past.
  nodes = std::min(nodes, NT_FR_MAX_NODES);
  // Findings by code: those the traced process recorded, and those the
  // replay of its events finds that it did not record (online checks off,
  // an older numa-trace, a finding lost with the events a sink dropped).

  for (const auto& f : offline) {
    const bool recorded = std::any_of(t.findings.begin(), t.findings.end(), [&](const trace::RecordedFinding& g) {
      return g.finding.code == f.code && g.finding.seq == f.seq;
    });
    if (recorded) continue;
    char text[768];
    rules::format_finding(r, f, text, sizeof text);
    replayed.push_back({f, text});
  }
  auto add = [&](const trace::RecordedFinding& f, bool replay_only) {
    Group& g = by_code[rules::code_info(f.finding.code).id];
    if (g.count++ == 0) g.first = &f;
    g.replay_only += replay_only;
  };
  for (const auto& f : t.findings) add(f, false);
  replayed.shrink_to_fit();  // (no more growth: `first` pointers stay valid)
  for (const auto& f : replayed) add(f, true);
  // A crash that no finding explains is a finding of its own (NT013), so
  // that every problem has a code to count and alert on.
  trace::RecordedFinding crashed{};
  if (t.crash && !out.beyond_advice()) {
    crashed.finding.code = rules::NT013;
    crashed.finding.severity = rules::kError;
    crashed.finding.seq = t.crash->seq;
    crashed.finding.tid = t.crash->tid;
    crashed.finding.slot = crashed.finding.file_idx = crashed.finding.related_slot = -1;
    crashed.finding.node = crashed.finding.mapping = -1;
    crashed.finding.aux = t.crash->signal;
    crashed.finding.address = t.crash->fault_address;
    char text[768];
    rules::format_finding(r, crashed.finding, text, sizeof text);
    crashed.text = text;
    synthesized.push_back(crashed);
    add(synthesized.back(), false);
  }
  for (const auto& d : t.dropped) out.dropped += d.count;
  return out;
}

}  // namespace numatrace::cli
