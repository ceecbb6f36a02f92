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
#include "render_html.h"
#include "render_report.h"

namespace numatrace::cli {

namespace {

// An output of report: never overwritten, never written through a symlink;
// 0600 like the trace it is made from (it holds the same paths and
// addresses). A failure is said, naming the option and the file.
bool write_new_file(const std::string& path, const std::string& text, const char* option) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr;
  if (!f) {
    if (fd >= 0) ::close(fd);
    std::fprintf(stderr, "numa-trace report: %s %s: %s\n", option, path.c_str(), std::strerror(errno));
    return false;
  }
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    std::fprintf(stderr, "numa-trace report: %s %s: write failed: %s\n", option, path.c_str(), std::strerror(errno));
  return ok;
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
  return write_new_file(path, json_text(doc, -1), "--chrome-trace");
}

}  // namespace

int print_report(const ReportOptions& o) {
  auto read = trace::read_trace(o.trace);
  if (!read) return unusable(read.error());  // a trace that cannot be read at all
  const trace::Trace& t = *read;
  const TraceSummary s = summarize(t, o.remote_threshold);
  if (!o.chrome_trace.empty() && !write_chrome_trace(t, o.chrome_trace)) return kUsage;
  if (!o.html.empty() && !write_new_file(o.html, report_html(t, s), "--html")) return kUsage;
  if (o.json)
    std::printf("%s\n", json_text(report_json(t, s)).c_str());
  else
    print_report_text(t, s);
  return s.problems(t) ? kProblems : kOk;
}

Command add_report(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* sub = app.add_subcommand(
      "report",
      "Summarize a binary trace (NUMA_TRACE=file:PATH): every mapping with its slot, kind, base, size, intended node "
      "and the placement of its pages; placement per file inside unified and replica mappings; resolves per file and "
      "per node; remote reads (the share of resolved bytes on another node than the resolving thread's); findings "
      "grouped by code with the first of each; the crash. Exit 0 nothing wrong (advice such as NT015 alone "
      "included), 1 findings or a crash, 2 the trace cannot be read.");
  sub->add_option("trace", o->trace, "The binary trace file")->required();
  sub->add_flag("--json", o->json, "Print JSON instead of tables");
  sub->add_option("--remote-threshold", o->remote_threshold,
                  "Raise NT015 (advice) when at least this percent of the bytes resolved with known placement lie "
                  "on another node than the resolving thread's")
      ->check(CLI::Range(0, 100))
      ->default_val(rules::kDefaultRemoteThresholdPct);
  sub->add_option("--html", o->html,
                  "Also write the report as one self-contained HTML page to this file (no network; inline CSS, SVG, "
                  "script): mappings, files, a file x node placement heatmap, each tensor's wanted and observed "
                  "node, remote reads, findings with their cause and fix, the crash, a zoomable timeline per thread");
  sub->add_option("--chrome-trace", o->chrome_trace,
                  "Also write the Chrome trace event format to this file (Perfetto, chrome://tracing): one track per "
                  "thread with its resolves, creates, unmaps, destroys and findings");
  return {sub, [o] { return print_report(*o); }};
}

}  // namespace numatrace::cli
