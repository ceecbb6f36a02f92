// numa-trace postmortem CORE: which mapping slot was null, for which tensor
// and file, and why; from a core dump (plain or .zst).
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "engine.h"
#include "facts.h"
#include "numatrace/codec.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/engine.h"
#include "process.h"
#include "render_postmortem.h"
#include "sandbox.h"

namespace numatrace::cli {

namespace {

// The gdb fallback: the loader's state from its debug info, read by gdb
// with numa-trace's extension (`numa-trace facts`), judged like the native
// reader's. Returns false (with the reason) when it cannot.
bool judge_through_gdb(postmortem::Report& r, const PostmortemOptions& o, std::string& why) {
  const std::string gdb = "/usr/bin/gdb";
  if (access(gdb.c_str(), X_OK) != 0) {
    why = "gdb is not installed";
    return false;
  }
  std::string dir;
  // Installed relative to the command (this runs in its process), else the
  // source tree's.
  const char* env = std::getenv("NUMA_TRACE_GDB_DIR");
  const std::string dirs[] = {env ? env : "", self_dir() + "/" NUMA_TRACE_GDB_REL, NUMA_TRACE_GDB_SOURCE_DIR};
  for (const std::string& d : dirs)
    if (!d.empty() && access((d + "/numatrace-gdb.py").c_str(), R_OK) == 0) {
      dir = d;
      break;
    }
  if (dir.empty()) {
    why = "numa-trace's gdb extension is not installed";
    return false;
  }
  // gdb fetches from debuginfod exactly when the native reader may
  // (DEBUGINFOD_URLS set, no --offline: analyze() left it set).
  const char* urls = std::getenv("DEBUGINFOD_URLS");
  const bool fetch = !o.pm.offline && urls && *urls;
  std::vector<std::string> cmd = {
      gdb,    "-batch",           "-nx", "-iex", fetch ? "set debuginfod enabled on" : "set debuginfod enabled off",
      "-iex", "set auto-load off"};
  std::string debug_dirs;
  for (const auto& d : o.pm.debug_dirs) debug_dirs += d + ":";
  if (!debug_dirs.empty()) {
    cmd.push_back("-iex");
    cmd.push_back("set debug-file-directory " + debug_dirs + "/usr/lib/debug");
  }
  for (const std::string& a : {std::string("-iex"), "source " + dir + "/numatrace-gdb.py", std::string("-ex"),
                               std::string("numa-trace facts"), r.executable, o.pm.core})
    cmd.push_back(a);
  // Bounded like the decoder itself: gdb on a hostile core must not hang us.
  auto c = run_captured(cmd, {}, ".", o.timeout);
  if (c.timed_out) {
    why = "gdb did not answer within " + std::to_string(o.timeout) + " s";
    return false;
  }
  auto begin = c.out.find("NUMA-TRACE-FACTS-BEGIN\n"), end = c.out.find("\nNUMA-TRACE-FACTS-END");
  if (begin == std::string::npos || end == std::string::npos || end < begin) {
    auto none = c.out.find("NUMA-TRACE-FACTS-NONE");
    why = none != std::string::npos ? c.out.substr(none + 22, c.out.find('\n', none) - none - 22)
                                    : "gdb gave no answer (" + std::to_string(c.status) + ")";
    return false;
  }
  auto st = loader_state_from_facts(c.out.substr(begin + 23, end - begin - 23), o.pm.core);
  if (!st) {
    why = st.error().message;
    return false;
  }
  r.loader_state = *st;
  postmortem::judge_loader_state(r);
  return true;
}

}  // namespace

int run_postmortem(const PostmortemOptions& in) {
  PostmortemOptions o = in;
  postmortem::CoredumpEntry entry;
  if (!o.coredump.empty() || !o.listed.cursor.empty()) {
    auto found = o.listed.cursor.empty() ? postmortem::find_coredump(o.coredump) : postmortem::coredump_core(o.listed);
    if (!found) {
      return unusable(found.error());
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
  if (o.debug_info != "auto" && o.debug_info != "native" && o.debug_info != "gdb" && o.debug_info != "none") {
    std::fprintf(stderr, "numa-trace postmortem: --debug-info is auto, native, gdb or none, not '%s'\n",
                 o.debug_info.c_str());
    return kUsage;
  }
  o.pm.debug_info = o.debug_info == "auto" || o.debug_info == "native";
  if (o.sources != "crashed" && o.sources != "all" && o.sources != "none") {
    std::fprintf(stderr, "numa-trace postmortem: --sources is crashed, all or none, not '%s'\n", o.sources.c_str());
    return kUsage;
  }
  o.pm.sources = o.sources == "all"    ? postmortem::Sources::all
                 : o.sources == "none" ? postmortem::Sources::none
                                       : postmortem::Sources::crashed;
  auto analyzed = postmortem::analyze(o.pm);
  // The loader's state from its debug info, when no recorder explains the
  // crash (none in the core, or one whose mappings say nothing about it).
  if (analyzed && (!analyzed->recorder || (!analyzed->recorder_explains && analyzed->signal)) && !analyzed->damaged &&
      !analyzed->loader_state.found) {
    postmortem::LoaderState& native = analyzed->loader_state;
    // gdb when asked, or whenever the native reader did not give the
    // loader's state from modules that have DWARF (gdb reads what libdw
    // 0.188 cannot: .dwp packages, some LTO locations).
    const bool ask_gdb =
        o.debug_info == "gdb" ||
        (o.debug_info == "auto" && (!native.unsupported.empty() || native.in_scope || native.any_dwarf));
    const std::string native_why = native.why;
    std::string why;
    if (ask_gdb && judge_through_gdb(*analyzed, o, why)) {
      if (!native_why.empty())
        analyzed->warnings.push_back(Warning{
            "", "the native DWARF reader could not give the loader's state (" + native_why + "); gdb did (slower)"});
    } else if (o.debug_info != "none") {
      analyzed->warnings.push_back(
          Warning{"", "the loader's state could not be read from its debug info: " +
                          (native_why.empty() ? why : native_why + (why.empty() ? "" : "; gdb: " + why))});
    }
  }
  if (entry.temporary) unlink(entry.filename.c_str());
  if (analyzed && o.journal) {
    if (auto s = postmortem::journal_verdict(entry, *analyzed); !s) print_error(s.error());
  }
  if (!analyzed) {
    return unusable(analyzed.error());  // the core cannot be read
  }
  const postmortem::Report& r = *analyzed;
  // Advice (NT015) alone is not a problem.
  const bool problems = r.signal != 0 || std::any_of(r.findings.begin(), r.findings.end(),
                                                     [](const nt_fr_finding& f) { return !rules::is_advice(f.code); });
  // A truncated or corrupt core is reported as far as it could be read,
  // and still exits 2.
  const int rc = r.damaged ? kUsage : problems ? kProblems : kOk;

  if (o.json) {
    std::printf("%s\n", json_text(postmortem_json(r)).c_str());
    return rc;
  }
  print_postmortem(r);
  return rc;
}

}  // namespace numatrace::cli
