// The subcommands served by the post-mortem engine (engine.h): their
// options and help live here, in the command; their work in the module,
// loaded when one of them runs.
#include <dlfcn.h>
#include <limits.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "buckets.h"
#include "cli.h"
#include "engine.h"
#include "sandbox.h"

#ifndef NUMA_TRACE_ENGINE_REL
#error "NUMA_TRACE_ENGINE_REL must be defined by the build"
#endif

namespace numatrace::cli {
namespace {
bool g_debuginfod_wanted = false;  // see dlopen() below
}  // namespace

void allow_debuginfod(bool wanted) {
  g_debuginfod_wanted = wanted;
}

const EngineApi* engine() {
  static const EngineApi* api = nullptr;
  if (api) return api;
  char exe[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string();
  dir = dir.substr(0, dir.rfind('/') + 1);
  std::string why;
  for (const std::string& path :
       {dir + NUMA_TRACE_ENGINE_REL "/numa-trace-engine.so", dir + "../lib/numa-trace/numa-trace-engine.so"}) {
    if (access(path.c_str(), F_OK) != 0) continue;
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      why = dlerror();
      continue;
    }
    auto* get = reinterpret_cast<const EngineApi* (*)()>(dlsym(h, "numatrace_cli_engine"));
    const EngineApi* a = get ? get() : nullptr;
    if (!a || std::strcmp(a->version, NUMA_TRACE_VERSION) != 0 || a->sizes[0] != sizeof(PostmortemOptions) ||
        a->sizes[1] != sizeof(DiagnoseOptions) || a->sizes[2] != sizeof(JournalOptions)) {
      why = path + " is not this numa-trace's engine (another version or build)";
      dlclose(h);
      continue;
    }
    api = a;
    return api;
  }
  std::string where = dir + NUMA_TRACE_ENGINE_REL;
  if (std::string(NUMA_TRACE_ENGINE_REL) != "../lib/numa-trace") where += " and " + dir + "../lib/numa-trace";
  std::fprintf(stderr,
               "numa-trace: cannot load the post-mortem engine (numa-trace-engine.so, looked for in %s)%s%s; reinstall "
               "numa-trace\n",
               where.c_str(), why.empty() ? "" : ": ", why.c_str());
  return nullptr;
}

Command add_postmortem(CLI::App& app) {
  auto o = std::make_shared<PostmortemOptions>();
  auto* sub = app.add_subcommand(
      "postmortem",
      "Decode a core dump (plain, or zstd as systemd-coredump stores it): the signal and the class of the fault "
      "address, every thread's frames (crashing thread first), the flight recorder when the program ran under "
      "numa-trace (mapping slots at the crash, each thread's resolve in flight, the last events) and a verdict from "
      "the rule engine; without the recorder, the GGUF and hugetlbfs files mapped at the crash (NT_FILE). Many "
      "cores (several, a folder, or --coredump MATCH --all) are each decoded the same way and grouped by cause: one "
      "line per cause with its count, hosts, programs, first and last time and an example core. Exit 0 nothing "
      "wrong, 1 a crash or findings, 2 a core cannot be read.");
  sub->add_option("core", o->cores,
                  "Core files (.zst accepted), or folders searched for cores; more than one core groups them by cause");
  sub->add_option("--coredump", o->coredump,
                  "Decode the newest core systemd-coredump caught for this PID, executable path or command name "
                  "(as coredumpctl matches); with --all, every one")
      ->each([o](const std::string&) { o->coredump_given = true; });
  sub->add_flag("--all", o->all, "With --coredump: every matching core, grouped by cause (MATCH may be \"\": all)");
  sub->add_flag("-q,--quiet", o->quiet, "No progress on stderr when decoding many cores");
  sub->add_flag("--journal", o->journal, "Write the verdict back to the journal, naming the crash");
  sub->add_option("--exe", o->pm.executable, "The program's file, when the path in the core is not right");
  sub->add_flag("--force", o->pm.force, "Use modules whose build-id differs from the core's (said in the output)");
  sub->add_flag("--json", o->json, "Print JSON");
  sub->add_option("--debug-info", o->debug_info,
                  "Without a flight recorder, read the loader's state from its DWARF: auto (natively with libdw, "
                  "gdb with numa-trace's extension where libdw cannot), native, gdb, or none")
      ->default_val("auto");
  sub->add_option("--debug-dir", o->pm.debug_dirs,
                  "Look for separate debug info here by build-id (DIR/.build-id/xx/rest.debug); repeatable")
      ->allow_extra_args(false);
  sub->add_flag_callback(
      "--no-gdb", [o] { o->debug_info = "native"; }, "Same as --debug-info native");
  sub->add_flag("--offline", o->pm.offline,
                "Never fetch debug info from the debuginfod servers in DEBUGINFOD_URLS (fetched by build-id when "
                "not found on disk, with the client's cache and DEBUGINFOD_TIMEOUT, as gdb and eu-stack do)");
  sub->add_option("--sources", o->sources,
                  "Source lines and inlined calls (from DWARF) for: crashed (the crashing thread's frames outside "
                  "the C and C++ runtime), all (every frame of every thread; opens the runtime's debug info, "
                  "slower), none. Function names come from the symbol tables either way")
      ->default_val("crashed");
  sub->add_option("--max-threads", o->pm.max_threads, "Threads shown at most")->default_val(64);
  sub->add_option("--max-frames", o->pm.max_frames, "Frames per thread at most")->default_val(64);
  sub->add_option("--events", o->pm.events, "Last events of the recorder shown")->default_val(16);
  sub->add_option("--timeout", o->timeout,
                  "Stop decoding after this many seconds (0: never). The core is decoded in a sandboxed child "
                  "process: a hang or crash of the decoder on a damaged core is an error (PM010, PM011, exit 2)")
      ->default_val(300);
  return {sub, [o] {
            if (o->all && !o->coredump_given) {
              std::fprintf(stderr, "numa-trace postmortem: --all goes with --coredump MATCH (\"\" for every core)\n");
              return static_cast<int>(kUsage);
            }
            // Loaded before the decoding child is forked, so that a missing
            // module is said once, plainly.
            const char* urls = std::getenv("DEBUGINFOD_URLS");
            allow_debuginfod(!o->pm.offline && urls && *urls);
            const EngineApi* e = engine();
            if (!e) return static_cast<int>(kUsage);
            if (many_cores(*o)) return run_many(*o, e);
            if (!o->cores.empty()) o->pm.core = o->cores.front();
            SandboxLimits limits;
            limits.wall_seconds = o->timeout;
            limits.cpu_seconds = o->timeout;
            return run_sandboxed(o->coredump.empty() ? o->pm.core : "--coredump " + o->coredump, limits,
                                 [o, e] { return e->postmortem(*o); });
          }};
}

Command add_diagnose(CLI::App& app) {
  auto o = std::make_shared<DiagnoseOptions>();
  auto* sub = app.add_subcommand(
      "diagnose",
      "The verdict for one thread from facts a debugger gathered (the gdb extension's `numa-trace diagnose` runs "
      "this): a flight recorder dumped from memory (--recorder, with --tid), or the loader's state as JSON "
      "(--facts; docs/gdb.md gives the shape). Same rule engine and words as numa-trace postmortem. Exit 0 no "
      "finding, 1 findings, 2 unreadable input.");
  sub->add_option("--recorder", o->recorder, "A dump of numatrace_flight_recorder");
  sub->add_option("--facts", o->facts, "The loader's state as JSON");
  sub->add_option("--tid", o->tid, "The thread to judge (with --recorder)");
  sub->add_option("--signal", o->signal, "The signal the thread got, 0 when merely stopped")->default_val(0);
  sub->add_option("--fault-address", o->fault_address, "The fault address, with --signal");
  sub->add_option("--where", o->where, "Where it stopped, e.g. \" in load_all_data\"");
  sub->add_flag("--json", o->json, "Print JSON");
  return {sub, [o] {
            const EngineApi* e = engine();
            return e ? e->diagnose(*o) : kUsage;
          }};
}

Command add_journal(CLI::App& app) {
  auto o = std::make_shared<JournalOptions>();
  auto* sub = app.add_subcommand(
      "journal",
      "Read back numa-trace's entries from the systemd journal (written by the `journal` sink of traced programs and "
      "by `postmortem --journal`): this machine's, or a collector's (-D, --file: what systemd-journal-remote wrote "
      "for many hosts). --by groups them by host, finding code, model or program, with counts, first and last time "
      "and an example message. Exit 0 none are findings, 1 some are, 2 the journal cannot be read.");
  sub->add_option("-D,--directory", o->directory,
                  "Read the journal files in this folder (as journalctl -D), e.g. systemd-journal-remote's output");
  sub->add_option("--file", o->files, "Read this journal file (as journalctl --file); repeatable")
      ->allow_extra_args(false);
  sub->add_option("--since", o->since, "Entries from this time on: 'YYYY-MM-DD [HH:MM:SS]' or -N[smhd] (e.g. -10m)");
  sub->add_option("--code", o->code, "Only this finding code, e.g. NT001");
  sub->add_option("--pid", o->pid, "Only entries of this process");
  sub->add_option("--host", o->host, "Only entries of this host (_HOSTNAME)");
  sub->add_option("--event", o->event, "Only this event type (create, finding, crash, resolve_summary, verdict, ...)");
  sub->add_option("--by", o->by,
                  "Summarize instead of listing: one line per host, code (findings only), model (NUMA_TRACE_MODEL) "
                  "or program (_COMM), with entries, findings, first and last time, the codes (or, by code, the "
                  "hosts) and an example message");
  sub->add_option("-n,--lines", o->lines, "Only the last N entries");
  sub->add_flag("--json", o->json,
                "Print JSON: one object per entry with all its NUMA_TRACE_* fields and the journal's _HOSTNAME, "
                "_MACHINE_ID, _PID, _COMM..., or with --by one object per group");
  return {sub, [o] {
            const EngineApi* e = engine();
            return e ? e->journal(*o) : kUsage;
          }};
}

}  // namespace numatrace::cli

// libdw 0.188 loads libdebuginfod (and with it libcurl and some 25 more
// libraries: half of a post-mortem's time on a small core) from a
// constructor, whether or not any server is named. The command defines
// dlopen, which the dynamic linker binds libdw's call to (the command
// exports it), and refuses that one library unless a subcommand said it
// may fetch (postmortem with DEBUGINFOD_URLS set and no --offline); every
// other dlopen goes to libc's.
extern "C" __attribute__((visibility("default"))) void* dlopen(const char* file, int mode) {
  using Fn = void* (*)(const char*, int);
  static const Fn real = reinterpret_cast<Fn>(dlsym(RTLD_NEXT, "dlopen"));
  if (file && !numatrace::cli::g_debuginfod_wanted && std::strncmp(file, "libdebuginfod", 13) == 0) return nullptr;
  return real ? real(file, mode) : nullptr;
}
