// The post-mortem engine: the subcommands that need libdw, libelf, libzstd
// or libsystemd (postmortem, diagnose, journal, and the demo's decoding
// step) live in a private module, numa-trace-engine.so, that the command
// loads with dlopen when one of them runs. Every other subcommand (run
// above all, which every traced program pays for) starts without loading
// those libraries and theirs (libgcrypt, liblz4, libcap, libz, libbz2, and
// libdebuginfod with libcurl, which libdw's constructor loads whenever
// DEBUGINFOD_URLS is set). docs/design.md, "The command".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "numatrace/postmortem/postmortem.h"

namespace numatrace::cli {

struct PostmortemOptions {
  postmortem::Options pm;
  bool json = false;
  std::string debug_info = "auto";   // --debug-info: auto, native, gdb, none
  std::string sources = "crashed";   // --sources: crashed, all, none
  std::string coredump;              // --coredump MATCH
  std::vector<std::string> cores;    // the CORE arguments: files or folders
  bool coredump_given = false;       // --coredump was given (its MATCH may be "": every entry)
  bool all = false;                  // --all: every --coredump match, not the newest
  bool quiet = false;                // --quiet: no progress
  postmortem::CoredumpEntry listed;  // one entry of --coredump --all, decoded by a child
  bool journal = false;              // --journal: write the verdict back
  unsigned timeout = 300;            // --timeout: the decoding child's wall-clock limit, seconds
};

struct DiagnoseOptions {
  std::string recorder, facts, where;
  int tid = 0, signal = 0;
  uint64_t fault_address = 0;
  bool json = false;
};

struct JournalOptions {
  std::string since, code, pid, event, host;
  std::string directory;           // -D: a folder of journal files (a collector's output)
  std::vector<std::string> files;  // --file: journal files
  std::string by;                  // --by: host, code, model or program
  unsigned lines = 0;
  bool json = false;
};

// In the module (cmd_postmortem.cpp, cmd_diagnose.cpp, cmd_journal.cpp).
int run_postmortem(const PostmortemOptions& o);
int run_diagnose(const DiagnoseOptions& o);
int run_journal(const JournalOptions& o);

// What the module hands the command. Both come from the same build: the
// version and the sizes of the option structures must match, or the
// module is refused.
struct EngineApi {
  const char* version;
  uint32_t sizes[3];  // sizeof PostmortemOptions, DiagnoseOptions, JournalOptions
  int (*postmortem)(const PostmortemOptions&);
  int (*diagnose)(const DiagnoseOptions&);
  int (*journal)(const JournalOptions&);
  // The demo's step 3: the verdict for CORE of EXECUTABLE; false with the
  // error's text in `verdict` when the core cannot be read.
  bool (*verdict)(const std::string& core, const std::string& executable, std::string& verdict);
  // Every systemd-coredump entry that MATCH names, oldest first (without
  // their cores); kUsage after saying why when none can be listed.
  int (*coredumps)(const std::string& match, std::vector<postmortem::CoredumpEntry>& out);
};

// In the command: the module, loaded at the first call (next to the
// command: <bindir>/NUMA_TRACE_ENGINE_REL, or ../lib/numa-trace in the
// build tree); null after printing why it cannot be loaded.
const EngineApi* engine();

// Whether libdw may load its debuginfod client when engine() loads it (it
// may not by default: engine_commands.cpp, dlopen()).
void allow_debuginfod(bool wanted);

}  // namespace numatrace::cli

extern "C" const numatrace::cli::EngineApi* numatrace_cli_engine(void);
