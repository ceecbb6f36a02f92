// numa-trace demo: the whole story on a generated model. A NUMA-mirror
// style loader crashes on the null mapping slot; numa-trace names the slot,
// file and tensor before the crash, the kernel writes a small core, the
// trace is summarized; then the corrected loader runs clean and the report
// shows where every file's pages are.
#include <fcntl.h>
#include <limits.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "cli.h"
#include "engine.h"
#include "numatrace/gguf/model.h"
#include "numatrace/gguf/synth.h"
#include "numatrace/postmortem/postmortem.h"
#include "process.h"

namespace numatrace::cli {

namespace {

namespace fs = std::filesystem;

struct DemoOptions {
  std::string dir;
  bool keep = false;
  uint64_t size = 24ull << 20;
};

void quote(const std::string& text, const char* prefix = "      | ") {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) std::printf("%s%s\n", prefix, line.c_str());
}

void say(const char* step, const std::string& text) {
  std::printf("\n[%s] %s\n", step, text.c_str());
  std::fflush(stdout);
}

int run_demo(const DemoOptions& o) {
  const std::string loader = find_loader();
  const std::string lib = find_library(false);
  if (loader.empty() || lib.empty()) {
    std::fprintf(stderr, "numa-trace demo: cannot find %s (set %s)\n",
                 loader.empty() ? "numa-trace-loader" : "libnumatrace.so",
                 loader.empty() ? "NUMA_TRACE_LOADER" : "NUMA_TRACE_LIBRARY");
    return kUsage;
  }
  std::string dir = o.dir;
  if (dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "numa-trace-demo-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("numa-trace demo: mkdtemp");
      return kUsage;
    }
    dir = tmpl;
  } else if (!fs::is_directory(dir) && !fs::create_directories(dir)) {
    std::fprintf(stderr, "numa-trace demo: cannot create %s\n", dir.c_str());
    return kUsage;
  }
  std::unique_ptr<void, std::function<void(void*)>> cleanup(reinterpret_cast<void*>(1), [&](void*) {
    if (!o.keep && o.dir.empty()) fs::remove_all(dir);
  });
  bool as_expected = true;

  std::printf(
      "numa-trace demo: a NUMA-mirror style loader crashes on an empty mapping slot; numa-trace explains it,\n"
      "then the corrected loader runs clean. Working directory: %s\n",
      dir.c_str());

  say("1/6", "Generate a llama-shaped model split into 6 GGUF files (" + human_bytes(o.size) + ").");
  gguf::SynthOptions so;
  so.target_bytes = o.size;
  so.splits = 6;
  auto plan = gguf::plan_model(so);
  if (!plan) return checked(plan.error());
  auto paths = gguf::write_model(dir + "/model", *plan);
  if (!paths) return checked(paths.error());
  auto m = gguf::open_model(paths->front());
  if (!m) return checked(m.error());
  std::printf("      %zu files, %llu tensors, e.g. %s\n", m->files.size(),
              static_cast<unsigned long long>(m->tensor_count()), fs::path(paths->at(1)).filename().c_str());

  say("2/6",
      "Load it as the NUMA-mirror loader does: all 6 files copied into one region kept in mapping slot 0, slots 1-5\n"
      "      left empty. Its bug: each tensor is still resolved through mappings[file idx]. numa-trace is preloaded.");
  const std::string crash_trace = dir + "/crash.nttrace";
  Captured bad =
      run_captured({loader, paths->front(), "--strategy", "unified", "--fault", "null-slot", "--threads", "1"},
                   {"LD_PRELOAD=" + lib, "NUMA_TRACE=file:" + crash_trace}, dir);
  quote(bad.err);
  bool segv = WIFSIGNALED(bad.status) && WTERMSIG(bad.status) == SIGSEGV;
  bool named = bad.err.find("NT001 resolve of 'blk.") != std::string::npos &&
               bad.err.find("through slot 1, which is empty") != std::string::npos;
  if (segv) {
    std::printf(
        "      The loader died of SIGSEGV, as the real one does; numa-trace named the slot, file and tensor first.\n");
  } else {
    std::printf("      UNEXPECTED: the loader did not die of SIGSEGV (status %d)\n", bad.status);
    as_expected = false;
  }
  as_expected &= named;
  std::string pattern;
  std::getline(std::ifstream("/proc/sys/kernel/core_pattern"), pattern);
  std::string core;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().rfind("core", 0) == 0) core = e.path().string();
  if (!core.empty()) {
    struct stat st {};
    stat(core.c_str(), &st);
    std::printf(
        "      The kernel wrote a core: %s (%s on disk for a %s model: model memory is left out; the flight\n"
        "      recorder is in it).\n",
        core.c_str(), human_bytes(static_cast<uint64_t>(st.st_blocks) * 512).c_str(), human_bytes(o.size).c_str());
  } else if (!pattern.empty() && pattern[0] == '|') {
    std::printf("      The kernel handed the core to '%s' (kernel.core_pattern).\n", pattern.substr(1).c_str());
  } else {
    std::printf("      No core was written here (kernel.core_pattern is '%s', or core dumps are limited).\n",
                pattern.c_str());
  }

  say("3/6", "What the core says (numa-trace postmortem " +
                 (core.empty() ? std::string("<no core>") : fs::path(core).filename().string()) + "):");
  if (!core.empty()) {
    const EngineApi* e = engine();
    std::string verdict;
    if (e && e->verdict(core, loader, verdict)) {
      quote(verdict, "      ");
      as_expected &= verdict.find("Mapping slot 1 is empty") != std::string::npos;
    } else {
      if (e) std::printf("      %s\n", verdict.c_str());
      as_expected = false;
    }
  } else {
    std::printf(
        "      (no core here to decode: see kernel.core_pattern above; `numa-trace postmortem CORE` does this)\n");
  }

  say("4/6", "What the trace of that run says (numa-trace report " + fs::path(crash_trace).filename().string() + "):");
  std::fflush(stdout);
  ReportOptions ro;
  ro.trace = crash_trace;
  int rc = print_report(ro);
  as_expected &= rc == kProblems;

  say("5/6",
      "Load it again with the fix: resolve every tensor through slot 0, at its file's offset inside the region;\n"
      "      --verify compares every byte read with the generated contents.");
  const std::string ok_trace = dir + "/fixed.nttrace";
  Captured good = run_captured({loader, paths->front(), "--strategy", "unified", "--verify"},
                               {"LD_PRELOAD=" + lib, "NUMA_TRACE=file:" + ok_trace}, dir);
  quote(good.out + good.err);
  bool clean = WIFEXITED(good.status) && WEXITSTATUS(good.status) == 0 && good.err.empty();
  if (!clean) {
    std::printf("      UNEXPECTED: the corrected load did not finish cleanly (status %d)\n", good.status);
    as_expected = false;
  }

  say("6/6", "The clean report: every mapping, and which node holds each file's pages:");
  std::fflush(stdout);
  ro.trace = ok_trace;
  rc = print_report(ro);
  as_expected &= rc == kOk;

  std::printf("\n%s\n", as_expected ? "Everything behaved as expected."
                                    : "numa-trace demo: something did not behave as expected (see above).");
  if (o.keep || !o.dir.empty()) std::printf("Files kept in %s\n", dir.c_str());
  return as_expected ? kOk : kProblems;
}

}  // namespace

Command add_demo(CLI::App& app) {
  auto o = std::make_shared<DemoOptions>();
  auto* sub = app.add_subcommand(
      "demo",
      "Show numa-trace end to end on a generated 6-split model: the NUMA-mirror loader's null-slot crash explained "
      "(slot, file idx, tensor) before it happens, a small core, the trace's report; then the corrected load, "
      "verified byte for byte, with its placement per file and node. Exit 0 when everything behaved as expected.");
  sub->add_option("--dir", o->dir, "Work in this directory (kept) instead of a temporary one");
  sub->add_flag("--keep", o->keep, "Keep the temporary directory");
  sub->add_option("--size", o->size, "Model size")->transform(CLI::AsSizeValue(false))->default_str("24M");
  return {sub, [o] { return run_demo(*o); }};
}

}  // namespace numatrace::cli
