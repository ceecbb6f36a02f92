// numa-trace report TRACE: what a traced load did, from its binary trace:
// mappings (slot, kind, base, size, intended node, observed placement),
// placement per file and per node, resolves, findings, the crash.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "numatrace/codec.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/replay.h"
#include "numatrace/trace/reader.h"
#include "process.h"

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

// An event type as the report shows it: its name with spaces ("model
// begin"), or its number when this build does not know it.
std::string event_name(uint16_t type) {
  const char* n = format::event_name(type);
  std::string s = n ? n : "event " + std::to_string(type);
  std::replace(s.begin(), s.end(), '_', ' ');
  return s;
}

// Chrome trace event format: a resolve is a complete event ("X") lasting
// until the same thread's next event (the time the loader spent on that
// tensor); everything else is an instant ("i") on the thread's track.
bool write_chrome_trace(const trace::Trace& t, const std::string& path) {
  nlohmann::ordered_json events = nlohmann::ordered_json::array();
  const auto pid = t.header.pid;
  std::map<uint32_t, size_t> open_resolve;  // tid -> index of its last resolve in `events`
  std::set<uint32_t> tids;
  for (const auto& e : t.events) {
    const double ts = static_cast<double>(t.ns(e.tsc)) / 1000.0;
    tids.insert(e.tid);
    if (auto it = open_resolve.find(e.tid); it != open_resolve.end()) {
      auto& prev = events[it->second];
      prev["dur"] = std::max(0.0, ts - prev["ts"].get<double>());
      open_resolve.erase(it);
    }
    if (e.type == NT_EV_EXTENT) continue;
    nlohmann::ordered_json ev = {{"name", e.type == NT_EV_RESOLVE ? std::string(e.name) : event_name(e.type)},
                                 {"cat", event_name(e.type)},
                                 {"ph", e.type == NT_EV_RESOLVE ? "X" : "i"},
                                 {"ts", ts},
                                 {"pid", pid},
                                 {"tid", e.tid}};
    if (e.type != NT_EV_RESOLVE) ev["s"] = "t";
    // Always an object: Perfetto and chrome://tracing drop events whose
    // args are null.
    auto args = nlohmann::ordered_json::object();
    if (e.slot >= 0) args["slot"] = e.slot;
    if (e.file_idx >= 0) args["file_idx"] = e.file_idx;
    switch (e.type) {
      case NT_EV_RESOLVE:
        args["offset"] = e.a;
        args["size"] = e.b;
        args["address"] = hex(e.c);
        args["node"] = e.node;
        ev["dur"] = 0.0;
        break;
      case NT_EV_CREATE:
        args["kind"] = format::kind_name(format::create_kind(e));
        args["base"] = hex(e.a);
        args["length"] = e.b;
        args["node"] = e.node;
        break;
      case NT_EV_UNMAP:
        args["address"] = hex(e.a);
        args["length"] = e.b;
        break;
      case NT_EV_DESTROY: args["base"] = hex(e.a); break;
      case NT_EV_READ:
        args["offset"] = e.a;
        args["length"] = e.b;
        args["destination"] = hex(e.c);
        args["page_node"] = e.page_node;
        break;
      case NT_EV_MODEL_BEGIN:
      case NT_EV_FILE_OPEN:
        if (t.strings.count(e.seq)) args["path"] = t.strings.at(e.seq);
        break;
      case NT_EV_FINDING:
        ev["name"] = rules::code_info(e.flags).id;
        args["title"] = rules::code_info(e.flags).title;
        break;
      case NT_EV_CRASH:
        ev["name"] = postmortem::signal_text(static_cast<int>(e.a));
        args["fault_address"] = hex(e.b);
        break;
      default: break;
    }
    ev["args"] = args;
    events.push_back(ev);
    if (e.type == NT_EV_RESOLVE) open_resolve[e.tid] = events.size() - 1;
  }
  for (uint32_t tid : tids)
    events.push_back({{"name", "thread_name"},
                      {"ph", "M"},
                      {"ts", 0},
                      {"pid", pid},
                      {"tid", tid},
                      {"args", {{"name", "thread " + std::to_string(tid)}}}});
  events.push_back({{"name", "process_name"},
                    {"ph", "M"},
                    {"ts", 0},
                    {"pid", pid},
                    {"tid", 0},
                    {"args", {{"name", "traced loader (pid " + std::to_string(pid) + ")"}}}});
  nlohmann::ordered_json doc = {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
  // Never overwrite, never through a symlink; 0600 like the trace it is made
  // from (it holds the same paths and addresses).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!f) {
    if (fd >= 0) ::close(fd);
    std::fprintf(stderr, "numa-trace report: --chrome-trace %s: %s\n", path.c_str(), std::strerror(errno));
    return false;
  }
  std::string text = json_text(doc, -1);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    std::fprintf(stderr, "numa-trace report: --chrome-trace %s: write failed: %s\n", path.c_str(),
                 std::strerror(errno));
  return ok;
}

}  // namespace

int print_report(const ReportOptions& o) {
  auto read = trace::read_trace(o.trace);
  if (!read) {
    return unusable(read.error());  // a trace that cannot be read at all
  }
  const trace::Trace& t = *read;

  auto tables = std::make_unique<rules::Recorder>();
  rules::Replayer replay(*tables);
  std::vector<nt_fr_finding> offline;
  auto on = [&](const nt_fr_finding& f) { offline.push_back(f); };
  std::map<int32_t, uint64_t> resolves_per_file, bytes_per_file;
  std::map<int, uint64_t> resolves_per_node;
  std::set<uint32_t> threads;
  std::string model_path;
  std::map<int32_t, std::string> file_paths;  // file idx -> path, from the file open events
  struct Reads {                              // a file's reads into the program's own memory (no mmap)
    uint64_t count = 0, bytes = 0;
    std::map<int, uint64_t> bytes_by_page_node;  // -1: not known
  };
  std::map<int32_t, Reads> reads;
  uint64_t first_ns = UINT64_MAX, last_ns = 0;
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
  const rules::Recorder& r = replay.tables();
  // The files a mapping holds: its extents (unified, replica), else the
  // file of its slot (per-file: slot i maps file i, as upstream).
  auto files_of = [&](const nt_fr_mapping& m) {
    std::vector<int32_t> idx;
    for (uint32_t k = 0; k < m.n_extents; ++k) idx.push_back(r.extents[m.first_extent + k].file_idx);
    if (idx.empty() && m.kind == NT_KIND_PER_FILE && m.slot >= 0) idx.push_back(m.slot);
    return idx;
  };
  auto path_of = [&](int32_t f) { return file_paths.count(f) ? file_paths.at(f) : std::string(); };
  // Load timeline: when each phase happened, from the start of the trace.
  struct Phase {
    uint64_t first = UINT64_MAX, last = 0, count = 0;
    void add(uint64_t ns) {
      first = std::min(first, ns);
      last = std::max(last, ns);
      ++count;
    }
  };
  std::map<std::string, Phase> phases;
  uint64_t resolved_bytes = 0;
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
  static const char* kPhaseOrder[] = {
      "model begin",        "mappings created", "splits read",        "tensors resolved",
      "fragments unmapped", "model end",        "mappings destroyed", "crash"};
  if (!o.chrome_trace.empty() && !write_chrome_trace(t, o.chrome_trace)) return kUsage;
  int nodes = 1;
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
  struct Group {
    uint64_t count = 0, replay_only = 0;
    const trace::RecordedFinding* first = nullptr;
  };
  std::vector<trace::RecordedFinding> replayed;
  for (const auto& f : offline) {
    const bool recorded = std::any_of(t.findings.begin(), t.findings.end(), [&](const trace::RecordedFinding& g) {
      return g.finding.code == f.code && g.finding.seq == f.seq;
    });
    if (recorded) continue;
    char text[768];
    rules::format_finding(r, f, text, sizeof text);
    replayed.push_back({f, text});
  }
  std::map<std::string, Group> by_code;
  auto add = [&](const trace::RecordedFinding& f, bool replay_only) {
    Group& g = by_code[rules::code_info(f.finding.code).id];
    if (g.count++ == 0) g.first = &f;
    g.replay_only += replay_only;
  };
  for (const auto& f : t.findings) add(f, false);
  for (const auto& f : replayed) add(f, true);
  // A crash that no finding explains is a finding of its own (NT013), so
  // that every problem has a code to count and alert on.
  trace::RecordedFinding crashed{};
  if (t.crash && by_code.empty()) {
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
    add(crashed, false);
  }
  const bool problems = !by_code.empty() || t.crash;

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
    j["opened_files"] = nlohmann::ordered_json::array();
    for (const auto& [f, path] : file_paths) j["opened_files"].push_back({{"file_idx", f}, {"path", path}});
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
          {"placement", hist_json(m.placement, m.placement_sampled, m.placement_absent, nodes)}};
      jm["files"] = nlohmann::ordered_json::array();
      for (int32_t f : files_of(m)) jm["files"].push_back({{"file_idx", f}, {"path", path_of(f)}});
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
    j["reads"] = nlohmann::ordered_json::array();
    for (const auto& [file, rd] : reads) {
      auto by_node = nlohmann::ordered_json::object();
      for (const auto& [node, bytes] : rd.bytes_by_page_node)
        by_node[node >= 0 ? std::to_string(node) : "unknown"] = bytes;
      j["reads"].push_back(
          {{"file_idx", file}, {"count", rd.count}, {"bytes", rd.bytes}, {"bytes_by_page_node", by_node}});
    }
    j["resolves"] = nlohmann::ordered_json::array();
    for (const auto& [file, count] : resolves_per_file)
      j["resolves"].push_back({{"file_idx", file}, {"count", count}, {"bytes", bytes_per_file[file]}});
    j["resolves_by_thread_node"] = nlohmann::ordered_json::object();
    for (const auto& [node, count] : resolves_per_node) j["resolves_by_thread_node"][std::to_string(node)] = count;
    j["threads"] = threads.size();
    j["timeline"] = nlohmann::ordered_json::array();
    for (const char* name : kPhaseOrder)
      if (phases.count(name))
        j["timeline"].push_back({{"phase", name},
                                 {"count", phases[name].count},
                                 {"first_ns", phases[name].first},
                                 {"last_ns", phases[name].last}});
    j["findings"] = nlohmann::ordered_json::array();
    for (const auto& [code, g] : by_code)
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
    uint64_t dropped = 0;
    for (const auto& d : t.dropped) dropped += d.count;
    j["dropped_events"] = dropped;
    std::printf("%s\n", json_text(j).c_str());
  } else {
    std::printf("trace %s: pid %u, %zu events over %.1f ms%s\n", printable(t.path).c_str(), t.header.pid,
                t.events.size(), static_cast<double>(last_ns - first_ns) / 1e6,
                t.complete ? "" : " (cut short: no summary record)");
    if (t.stopped) std::printf("  reading stopped early: %s\n", t.stopped->str().c_str());
    if (!model_path.empty()) std::printf("model %s (%u files)\n", printable(model_path).c_str(), r.n_files);
    if (rules::mapping_count(r) == 0 && !file_paths.empty()) {
      // Loaded without mmap (llama.cpp's use_mmap = false reads into its own
      // buffers): say so rather than show an empty table.
      std::printf("\n%zu split%s opened, none mapped: the program read %s into its own memory (no mmap)\n",
                  file_paths.size(), file_paths.size() == 1 ? "" : "s", file_paths.size() == 1 ? "it" : "them");
      for (const auto& [f, path] : file_paths) std::printf("  file %d: %s\n", f, printable(path).c_str());
    } else {
      std::printf("\nmappings\n %4s  %-8s %4s  %-14s %12s  %-9s  %-34s  %s\n", "slot", "kind", "node", "base", "size",
                  "state", "placement (sampled pages per node)", "files");
    }
    for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
      const auto& m = r.mappings[i];
      auto files = files_of(m);
      std::string ft;
      if (files.size() == 1)
        ft = std::to_string(files[0]) + (path_of(files[0]).empty() ? "" : " " + path_of(files[0]));
      else if (!files.empty())
        ft = std::to_string(files.front()) + "-" + std::to_string(files.back());
      std::printf(" %4d  %-8s %4s  %-14s %12s  %-9s  %-34s  %s\n", m.slot, format::kind_name(m.kind),
                  m.node >= 0 ? std::to_string(m.node).c_str() : "-", hex(m.base).c_str(),
                  human_bytes(m.length).c_str(), format::state_name(m.state),
                  placement_text(m.placement, m.placement_sampled, m.placement_absent, nodes).c_str(),
                  printable(ft).c_str());
    }
    if (!reads.empty()) {
      std::printf("\nreads into the program's memory (no mmap), by the node of the destination pages\n");
      for (const auto& [file, rd] : reads) {
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
      std::printf("\nplacement per file (inside unified and replica mappings)\n %4s  %4s %4s  %12s  %s\n", "file",
                  "slot", "node", "offset", "placement");
      for (uint32_t i = 0; i < rules::mapping_count(r); ++i) {
        const auto& m = r.mappings[i];
        for (uint32_t k = 0; k < m.n_extents; ++k) {
          const auto& x = r.extents[m.first_extent + k];
          std::printf(" %4d  %4d %4s  %12s  %s\n", x.file_idx, m.slot,
                      m.node >= 0 ? std::to_string(m.node).c_str() : "-", ("+" + hex(x.offset)).c_str(),
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
    if (!phases.empty()) {
      std::printf("\ntimeline (ms from the start of the trace)\n");
      for (const char* name : kPhaseOrder) {
        if (!phases.count(name)) continue;
        const Phase& p = phases[name];
        std::printf("  %-20s %9.3f", name, static_cast<double>(p.first) / 1e6);
        if (p.count > 1)
          std::printf(" .. %9.3f  (%llu)", static_cast<double>(p.last) / 1e6, static_cast<unsigned long long>(p.count));
        if (std::string(name) == "tensors resolved" && p.last > p.first)
          std::printf("  %s at %.0f MiB/s", human_bytes(resolved_bytes).c_str(),
                      static_cast<double>(resolved_bytes) / (1 << 20) / (static_cast<double>(p.last - p.first) / 1e9));
        std::printf("\n");
      }
      if (!t.summary) std::printf("  (no summary record: times assume a 2.5 GHz counter)\n");
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
      for (const auto& [code, g] : by_code)
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
  sub->add_option("--chrome-trace", o->chrome_trace,
                  "Also write the Chrome trace event format to this file (Perfetto, chrome://tracing): one track per "
                  "thread with its resolves, creates, unmaps, destroys and findings");
  return {sub, [o] { return print_report(*o); }};
}

}  // namespace numatrace::cli
