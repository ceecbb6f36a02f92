// numa-trace postmortem CORE: which mapping slot was null, for which tensor
// and file, and why; from a core dump (plain or .zst).
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "facts.h"
#include "numatrace/model/engine.h"
#include "numatrace/postmortem/postmortem.h"
#include "process.h"

namespace numatrace::cli {

namespace {

struct PostmortemOptions {
  postmortem::Options pm;
  bool json = false;
  bool no_gdb = false;   // --no-gdb: do not ask gdb for the loader's state
  std::string coredump;  // --coredump MATCH
  bool journal = false;  // --journal: write the verdict back
};

// Without a flight recorder: the loader's state from its debug info, read
// by gdb with numa-trace's extension (`numa-trace facts`), judged by the
// rule engine. Returns false (with the reason) when it cannot.
bool judge_from_debug_info(postmortem::Report& r, const std::string& core, std::string& why) {
  const std::string gdb = "/usr/bin/gdb";
  if (access(gdb.c_str(), X_OK) != 0) {
    why = "gdb is not installed";
    return false;
  }
  std::string dir;
  const char* dirs[] = {std::getenv("NUMA_TRACE_GDB_DIR"), NUMA_TRACE_GDB_INSTALL_DIR, NUMA_TRACE_GDB_SOURCE_DIR};
  for (const char* d : dirs)
    if (d && *d && access((std::string(d) + "/numatrace-gdb.py").c_str(), R_OK) == 0) {
      dir = d;
      break;
    }
  if (dir.empty()) {
    why = "numa-trace's gdb extension is not installed";
    return false;
  }
  auto c = run_captured({gdb, "-batch", "-nx", "-iex", "set debuginfod enabled off", "-iex", "set auto-load off",
                         "-iex", "source " + dir + "/numatrace-gdb.py", "-ex", "numa-trace facts", r.executable, core},
                        {}, ".");
  auto begin = c.out.find("NUMA-TRACE-FACTS-BEGIN\n"), end = c.out.find("\nNUMA-TRACE-FACTS-END");
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    auto none = c.out.find("NUMA-TRACE-FACTS-NONE");
    why = none != std::string::npos ? c.out.substr(none + 22, c.out.find('\n', none) - none - 22)
                                    : "gdb gave no answer (" + std::to_string(c.status) + ")";
    return false;
  }
  const std::string json = c.out.substr(begin + 23, end - begin - 23);
  int tid = 0;
  auto rec = recorder_from_facts(json, core, tid);
  if (!rec) {
    why = rec.error().message;
    return false;
  }
  const std::string where = postmortem::crash_location(r);
  auto j = postmortem::judge(**rec, tid, r.signal, r.fault_address, where);
  r.findings = j.findings;
  r.finding_text = j.finding_text;
  r.verdict = j.verdict + " (From the loader's debug info, read through gdb: this core has no usable flight recorder.)";
  if (!r.recorder_error.empty()) {
    std::string e = r.recorder_error;
    e[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(e[0])));
    r.verdict += " " + e + ".";
  }
  return true;
}

std::string frame_text(const postmortem::Frame& f) {
  std::string s = f.function.empty() ? "??" : f.function;
  if (f.inlined) s = "(inlined) " + s;
  if (!f.file.empty()) {
    s += " at " + f.file + ":" + std::to_string(f.line);
  } else if (!f.module.empty()) {
    s += " (" + f.module + " + " + hex(f.module_offset) + ")";
  }
  return s;
}

const char* event_type(uint16_t t) {
  static const char* names[] = {"none",  "model_begin", "model_end",  "file_open", "create",  "extent", "resolve",
                                "unmap", "destroy",     "mlock_grow", "placement", "finding", "crash",  "unified_test"};
  return t < sizeof names / sizeof names[0] ? names[t] : "?";
}

int run_postmortem(const PostmortemOptions& in) {
  PostmortemOptions o = in;
  postmortem::CoredumpEntry entry;
  if (!o.coredump.empty()) {
    auto found = postmortem::find_coredump(o.coredump);
    if (!found) {
      report(found.error());
      return kUsage;
    }
    entry = *found;
    o.pm.core = entry.filename;
    if (o.pm.executable.empty()) o.pm.executable = entry.exe;
    if (!o.json)
      std::printf("systemd-coredump: PID %s (%s), %s, core %s\n", entry.pid.c_str(), entry.exe.c_str(),
                  entry.signal.c_str(), entry.filename.c_str());
  } else if (o.pm.core.empty()) {
    std::fprintf(stderr, "numa-trace postmortem: give a CORE or --coredump MATCH\n");
    return kUsage;
  }
  auto analyzed = postmortem::analyze(o.pm);
  std::string verdict_source = "flight recorder";
  if (analyzed && !analyzed->recorder && !analyzed->damaged) {
    std::string why;
    if (!o.no_gdb && judge_from_debug_info(*analyzed, o.pm.core, why)) {
      verdict_source = "debug info (gdb)";
    } else {
      verdict_source = "NT_FILE only";
      if (!o.no_gdb) analyzed->warnings.push_back("the loader's state could not be read from its debug info: " + why);
    }
  }
  if (entry.temporary) unlink(entry.filename.c_str());
  if (analyzed && o.journal) {
    if (auto s = postmortem::journal_verdict(entry, *analyzed); !s) report(s.error());
  }
  if (!analyzed) {
    report(analyzed.error());
    return kUsage;  // the core cannot be read
  }
  const postmortem::Report& r = *analyzed;
  const bool problems = !r.findings.empty() || r.signal != 0;
  // A truncated or corrupt core is reported as far as it could be read,
  // and still exits 2.
  const int rc = r.damaged ? kUsage : problems ? kProblems : kOk;

  if (o.json) {
    nlohmann::ordered_json j;
    j["core"] = r.core_path;
    j["executable"] = r.executable;
    j["signal"] = r.signal ? postmortem::signal_text(r.signal) : "";
    j["si_code"] = r.si_code;
    j["fault_address"] = hex(r.fault_address);
    j["fault_class"] = postmortem::fault_class_name(r.fault_class);
    j["crashed_tid"] = r.crashed_tid;
    j["verdict"] = r.verdict;
    j["verdict_source"] = verdict_source;
    j["recorder"] = r.recorder ? nlohmann::ordered_json{{"found_by", r.recorder_found_by},
                                                        {"address", hex(r.recorder_address)},
                                                        {"version", r.recorder->version},
                                                        {"events", r.recorder->head},
                                                        {"interposer_only", r.interposer_only}}
                               : nlohmann::ordered_json(nullptr);
    if (!r.recorder_error.empty()) j["recorder_error"] = r.recorder_error;
    j["findings"] = nlohmann::ordered_json::array();
    for (size_t i = 0; i < r.findings.size(); ++i) {
      const auto& f = r.findings[i];
      j["findings"].push_back({{"code", model::code_info(f.code).id},
                               {"slot", f.slot},
                               {"file_idx", f.file_idx},
                               {"tensor", std::string(f.name)},
                               {"offset", f.offset},
                               {"related_slot", f.related_slot},
                               {"message", r.finding_text[i]}});
    }
    j["slots"] = nlohmann::ordered_json::array();
    if (r.recorder)
      for (uint32_t i = 0; i < model::mapping_count(*r.recorder); ++i) {
        const auto& m = r.recorder->mappings[i];
        j["slots"].push_back({{"slot", m.slot},
                              {"kind", model::kind_name(m.kind)},
                              {"state", m.state == NT_STATE_LIVE ? "live" : "destroyed"},
                              {"base", hex(m.base)},
                              {"length", m.length},
                              {"node", m.node},
                              {"extents", m.n_extents}});
      }
    j["mapped_files"] = nlohmann::ordered_json::array();
    for (const auto& f : r.files)
      j["mapped_files"].push_back({{"file_idx", f.file_idx},
                                   {"path", f.path},
                                   {"start", hex(f.start)},
                                   {"end", hex(f.end)},
                                   {"file_offset", f.file_offset},
                                   {"hugetlbfs", f.hugetlbfs}});
    j["splits_without_mapping"] = r.splits_without_mapping;
    j["threads"] = nlohmann::ordered_json::array();
    for (const auto& t : r.threads) {
      nlohmann::ordered_json jt = {{"tid", t.tid}, {"crashed", t.crashed}, {"frames", nlohmann::ordered_json::array()}};
      for (const auto& f : t.frames)
        jt["frames"].push_back({{"pc", hex(f.pc)},
                                {"function", f.function},
                                {"inlined", f.inlined},
                                {"module", f.module},
                                {"module_offset", hex(f.module_offset)},
                                {"file", f.file},
                                {"line", f.line}});
      if (t.truncated) jt["truncated"] = true;
      j["threads"].push_back(jt);
    }
    j["warnings"] = r.warnings;
    j["damaged"] = r.damaged;
    std::printf("%s\n", j.dump(2).c_str());
    return rc;
  }

  std::printf("core %s%s%s\n", r.core_path.c_str(), r.executable.empty() ? "" : " of ", r.executable.c_str());
  std::printf("\n%s\n", r.verdict.c_str());
  if (!r.finding_text.empty()) {
    std::printf("\nfindings\n");
    for (const auto& t : r.finding_text) std::printf("  %s\n", t.c_str());
  }
  if (r.recorder) {
    const auto& fr = *r.recorder;
    std::printf("\nmapping slots at the crash (flight recorder, found by %s at %s%s)\n", r.recorder_found_by.c_str(),
                hex(r.recorder_address).c_str(),
                r.interposer_only ? "; recorded by the preload interposer: no resolves" : "");
    std::printf(" %4s  %-8s %-9s %4s  %-16s %12s\n", "slot", "kind", "state", "node", "base", "length");
    int max_slot = -1;
    for (uint32_t i = 0; i < model::mapping_count(fr); ++i) max_slot = std::max(max_slot, fr.mappings[i].slot);
    for (int s = 0; s <= std::max<int>(max_slot, static_cast<int>(fr.n_files) - 1); ++s) {
      bool any = false;
      for (uint32_t i = 0; i < model::mapping_count(fr); ++i) {
        const auto& m = fr.mappings[i];
        if (m.slot != s) continue;
        any = true;
        std::printf(" %4d  %-8s %-9s %4s  %-16s %12s\n", s, model::kind_name(m.kind),
                    m.state == NT_STATE_LIVE ? "live" : "destroyed", m.node >= 0 ? std::to_string(m.node).c_str() : "-",
                    hex(m.base).c_str(), hex(m.length).c_str());
      }
      if (!any) std::printf(" %4d  %-8s\n", s, "<empty>");
    }
    if (!r.last_events.empty()) {
      std::printf("\nlast events\n");
      for (const auto& e : r.last_events) {
        std::printf("  #%-6llu %-12s tid %-7u", static_cast<unsigned long long>(e.seq), event_type(e.type), e.tid);
        if (e.slot >= 0) std::printf(" slot %d", e.slot);
        if (e.file_idx >= 0) std::printf(" file %d", e.file_idx);
        if (e.type == NT_EV_RESOLVE) std::printf(" '%s' offset %s", e.name, hex(e.a).c_str());
        if (e.type == NT_EV_CREATE)
          std::printf(" %s base %s", model::kind_name(static_cast<uint16_t>(e.d & 0xff)), hex(e.a).c_str());
        if (e.type == NT_EV_FINDING) std::printf(" %s", model::code_info(e.flags).id);
        std::printf("\n");
      }
    }
  }
  if (!r.files.empty()) {
    std::printf("\nmodel files mapped at the crash (NT_FILE)\n");
    for (const auto& f : r.files)
      std::printf(
          "  %s  %s-%s  +%s  %s\n",
          f.file_idx >= 0 ? ("file " + std::to_string(f.file_idx)).c_str() : (f.hugetlbfs ? "hugetlbfs" : "gguf"),
          hex(f.start).c_str(), hex(f.end).c_str(), hex(f.file_offset).c_str(), f.path.c_str());
    if (!r.splits_without_mapping.empty()) {
      std::printf("  splits with no mapping:");
      for (int i : r.splits_without_mapping) std::printf(" %d", i);
      std::printf("\n");
    }
  }
  for (const auto& t : r.threads) {
    std::printf("\nthread %d%s\n", t.tid, t.crashed ? " (crashed)" : "");
    int n = 0;
    for (const auto& f : t.frames) std::printf("  #%-2d %s  %s\n", n++, hex(f.pc).c_str(), frame_text(f).c_str());
    if (t.truncated) std::printf("  ... more frames (--max-frames)\n");
    if (!t.error.empty()) std::printf("  (%s)\n", t.error.c_str());
  }
  if (r.threads_truncated) std::printf("\n... more threads (--max-threads)\n");
  for (const auto& w : r.warnings) std::fprintf(stderr, "numa-trace postmortem: warning: %s\n", w.c_str());
  if (r.damaged)
    std::fprintf(stderr, "numa-trace postmortem: %s is truncated or corrupt; the above is what could be read\n",
                 r.core_path.c_str());
  return rc;
}

}  // namespace

Command add_postmortem(CLI::App& app) {
  auto o = std::make_shared<PostmortemOptions>();
  auto* sub = app.add_subcommand(
      "postmortem",
      "Decode a core dump (plain, or zstd as systemd-coredump stores it): the signal and the class of the fault "
      "address, every thread's frames (crashing thread first), the flight recorder when the program ran under "
      "numa-trace (mapping slots at the crash, each thread's resolve in flight, the last events) and a verdict from "
      "the rule engine; without the recorder, the GGUF and hugetlbfs files mapped at the crash (NT_FILE). Exit 0 "
      "nothing wrong, 1 a crash or findings, 2 the core cannot be read.");
  sub->add_option("core", o->pm.core, "The core file (.zst accepted)");
  sub->add_option("--coredump", o->coredump,
                  "Decode the newest core systemd-coredump caught for this PID, executable path or command name "
                  "(as coredumpctl matches)");
  sub->add_flag("--journal", o->journal, "Write the verdict back to the journal, naming the crash");
  sub->add_option("--exe", o->pm.executable, "The program's file, when the path in the core is not right");
  sub->add_flag("--force", o->pm.force, "Use modules whose build-id differs from the core's (said in the output)");
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_flag("--no-gdb", o->no_gdb,
                "Without a flight recorder, do not ask gdb (with numa-trace's extension) for the loader's state");
  sub->add_option("--max-threads", o->pm.max_threads, "Threads shown at most")->default_val(64);
  sub->add_option("--max-frames", o->pm.max_frames, "Frames per thread at most")->default_val(64);
  sub->add_option("--events", o->pm.events, "Last events of the recorder shown")->default_val(16);
  return {sub, [o] { return run_postmortem(*o); }};
}

}  // namespace numatrace::cli
