// Post-mortem of a core dump: which mapping slot was null, for which tensor
// and file, and why. Cores are walked the way systemd's elf-util does it
// (libdwfl: core_file_report, report_end, core_file_attach, getthreads,
// thread_getframes), with every count and length from the core checked
// before it is used. The verdict comes from the same rule engine as the
// online checks (numatrace/rules/engine.h).
#pragma once

#include <string.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "numatrace/recorder_layout.h"
#include "numatrace/result.h"

namespace numatrace::postmortem {

// Which frames get source lines and inlined calls from DWARF (every frame
// gets its function name from the symbol table): the crashing thread's
// outside the C and C++ runtime (runtime_module; default), every frame of
// every thread, or none.
enum class Sources { crashed, all, none };
bool runtime_module(const std::string& file_name);

struct Options {
  std::string core;        // a core file, plain or zstd-compressed (.zst)
  std::string executable;  // --exe: the program's file, when the core's path is not right
  bool force = false;      // use modules whose build-id does not match (said in the output)
  unsigned max_threads = 64, max_frames = 64, events = 16;
  // Without a flight recorder, read the loader's state from its DWARF
  // (debuginfo.cpp). `debug_dirs` are searched by build-id
  // (DIR/.build-id/xx/yyyy.debug) before the standard places.
  bool debug_info = true;
  Sources sources = Sources::crashed;
  std::vector<std::string> debug_dirs;
  // Debug info not found on disk is fetched by build-id from the servers in
  // DEBUGINFOD_URLS (libdwfl's debuginfod client, with its cache and
  // DEBUGINFOD_TIMEOUT), as gdb and eu-stack do; offline: never.
  bool offline = false;
};

struct Frame {
  uint64_t pc = 0;
  std::string function;  // demangled where possible, "" when unknown
  std::string module;    // file name of the module
  uint64_t module_offset = 0;
  std::string file;  // source file:line where debug info exists
  int line = 0;
  bool inlined = false;  // an inlined call inside the frame that follows
};

struct Thread {
  int tid = 0;
  bool crashed = false;
  std::vector<Frame> frames;
  bool truncated = false;  // more frames than max_frames
  std::string error;       // why unwinding stopped, if it did early
};

// A file mapped at the crash (NT_FILE).
struct MappedFile {
  uint64_t start = 0, end = 0, file_offset = 0;
  std::string path;
  int file_idx = -1;  // GGUF split number - 1, from its name
  int split_count = 0;
  bool hugetlbfs = false;  // a unified region's backing file
};

struct ModuleCheck {
  std::string name, path;
  std::string core_build_id, file_build_id;  // hex
  bool mismatch = false;
};

// The loader's state at the crash, read from its debug info (DWARF) in the
// crashing thread's innermost frame that holds a llama_model_loader: by
// libdw (read_loader_state, debuginfo.cpp), or by gdb with numa-trace's
// extension (`numa-trace facts`, parsed by the CLI into the same struct).
struct DebugSlot {
  int slot = 0;
  bool empty = true;     // a null unique_ptr
  uint64_t object = 0;   // the llama_mmap / llama_mlock object
  uint64_t base = 0;     // impl->addr
  uint64_t size = 0;     // impl->size
  bool readable = true;  // the impl could be read
  std::string note;      // what could not be read, and why
};
struct DebugFile {
  int idx = 0;
  bool empty = true;
  std::string path;  // impl->fname; "" in layouts without it
  uint64_t size = 0;
};
struct LoaderState {
  bool found = false;       // a loader frame was found and its slots read
  bool in_scope = false;    // a loader variable was in scope (read or not)
  bool any_dwarf = false;   // a module of the crashing thread's frames has DWARF units (gdb may read more)
  std::string unsupported;  // set when the native evaluator met DWARF it cannot evaluate: ask gdb
  std::string why;          // when !found: why not
  std::string source;       // "libdw" or "gdb"
  std::string debug_file;   // the file the DWARF came from
  int tid = 0;
  int frame_index = -1;     // in thread loader_tid, 0 = innermost
  int loader_tid = 0;       // the thread whose frame gave the loader (tid, the crashing one, unless
                            // its frames had lost it)
  std::string frame;        // the loader frame's function
  uint64_t loader = 0;      // address of the llama_model_loader
  std::string loader_from;  // how its address was found (variable and location)
  std::vector<DebugSlot> mappings, mlocks;
  bool have_mlocks = false;
  std::vector<DebugFile> files;
  bool have_weight = false;
  int weight_idx = -1;
  uint64_t weight_offs = 0, tensor_bytes = 0;
  std::string tensor;      // the weight's tensor name
  std::string weight_why;  // when !have_weight: why it cannot be known
  std::string weight_from;
  int mapping_slot = -1;     // the slot of the `mapping` variable, when the weight is not known
  std::string mapping_from;  // that variable and its frame
  // libstdc++ types no compile unit defined (clang's -fno-standalone-debug
  // for std::string), read by libstdc++'s ABI layout instead.
  std::vector<std::string> abi_layouts;
};

enum class FaultClass { none, null_page, live_mapping, destroyed_mapping, past_mapping_end, unmapped };
const char* fault_class_name(FaultClass c);

struct Report {
  std::string core_path;
  std::string executable;
  int signal = 0, si_code = 0;
  uint64_t fault_address = 0;
  bool have_siginfo = false;
  int crashed_tid = 0;
  std::vector<Thread> threads;  // crashing thread first
  bool threads_truncated = false;
  std::vector<MappedFile> files;  // GGUF splits and hugetlbfs files from NT_FILE
  std::vector<int> splits_without_mapping;
  std::vector<ModuleCheck> modules;
  std::vector<Warning> warnings;  // what could not be read, and why (the core is still reported)
  bool damaged = false;           // truncated or corrupt (PM003, PM005): reported, then exit 2

  // The flight recorder, when the program ran under numa-trace.
  std::shared_ptr<nt_flight_recorder> recorder;
  std::string recorder_found_by;  // "symbol" or "magic scan"
  std::string recorder_error;     // present but unusable (bad magic, unknown version)
  uint64_t recorder_address = 0;
  FaultClass fault_class = FaultClass::none;
  std::vector<nt_fr_finding> findings;  // from the rule engine at the crash, then the recorder's own
  std::vector<std::string> finding_text;
  std::vector<nt_fr_event> last_events;
  std::string verdict;           // one paragraph
  bool interposer_only = false;  // recorder present but fed by the preload interposer (no resolves)
  LoaderState loader_state;      // the loader's state from its debug info, when the recorder does not explain the crash
  bool recorder_explains = false;  // the recorder's verdict carries a finding about this crash
  std::string recorder_verdict;    // the recorder's own verdict, when the debug info's replaced it
  std::string verdict_source;      // "flight recorder", "debug info (libdw)", "debug info (gdb)", "NT_FILE only",
                                   // or "debug info (...) and flight recorder"
};

// The verdict on a flight recorder for thread `tid`: the thread's resolve
// in flight judged by the rule engine, the recorder's findings, and one
// paragraph. Shared by analyze() and `numa-trace diagnose` (gdb), so both
// use the same words. `where` is " in FUNCTION" or empty; signal 0 means
// the process is stopped, not crashed.
struct Judgement {
  FaultClass fault_class = FaultClass::none;
  std::vector<nt_fr_finding> findings;
  std::vector<std::string> finding_text;
  std::string verdict;
};
Judgement judge(const nt_flight_recorder& recorder, int tid, int signal, uint64_t fault_address,
                const std::string& where);
// "SIGSEGV"; inline, so that what only names signals (run, report) needs
// nothing of the post-mortem engine.
inline std::string signal_text(int sig) {
  const char* a = sigabbrev_np(sig);
  return a ? std::string("SIG") + a : "signal " + std::to_string(sig);
}
// The verdict's first words: "SIGSEGV at 0x0 (null page)" + where, or
// "Stopped" + where for signal 0.
std::string crash_sentence(int signal, uint64_t fault_address, FaultClass c, const std::string& where);
// The ring's last `max` events that are whole (their seq matches their
// place), oldest first, names NUL-terminated.
std::vector<nt_fr_event> last_events(const nt_flight_recorder& recorder, unsigned max);
// r.recorder_error as a sentence (" The flight recorder ... ."), or "".
std::string recorder_error_sentence(const Report& r);
// " in FUNCTION": the crashing thread's first frame of the program's own code.
std::string crash_location(const Report& r);

// The loader's state turned into flight-recorder tables (files, mappings,
// the unified region's extents, the weight as the thread's resolve in
// flight), so the rule engine judges it like a recorded run.
std::shared_ptr<nt_flight_recorder> recorder_from_state(const LoaderState& state);
// " File N of M is PATH (SIZE bytes)." for the loader's file `idx`, or "".
std::string file_sentence(const LoaderState& state, int idx);
// Sets r.findings, r.finding_text, r.fault_class and r.verdict from
// r.loader_state, saying where the state came from. With a recorder that
// did not explain the crash, the debug info's verdict replaces the
// recorder's only when it has a finding (never a worse verdict with the
// recorder than without), and the verdict says which source gave what.
void judge_loader_state(Report& r);

// A crash's cause without its addresses, to group many cores by: the
// first finding that is not advice (its code, and the slots it names as
// their relation to the file: "slot k = file idx, related slot 0"), the
// signal, and the crashing function of the program's own code. Without a
// finding, the fault address's class stands for the pattern. `id` is a
// short hash of `text`, the same from run to run.
struct Signature {
  std::string id, text, code, function, pattern;
};
Signature signature(const Report& r);

// A core caught by systemd-coredump, found through the journal
// (MESSAGE_ID fc2e22bc6ee647b6b90729ab34a250b1) by PID, executable path or
// command name, as coredumpctl matches; the newest wins.
struct CoredumpEntry {
  std::string pid, exe, comm, timestamp, signal;
  std::string hostname;    // COREDUMP_HOSTNAME (the crashed host's name)
  std::string cursor;      // the entry's journal cursor
  std::string filename;    // COREDUMP_FILENAME (.zst), or a temporary file holding the inline COREDUMP
  bool temporary = false;  // `filename` is ours to remove
};
Result<CoredumpEntry> find_coredump(const std::string& match);
// Every matching entry, oldest first (or the newest only), without its
// core: `filename` as the entry names it. PM009 when none matches.
Result<std::vector<CoredumpEntry>> find_coredumps(const std::string& match, bool newest_only);
// The core of a listed entry (found again by its cursor): its file, or a
// temporary file holding the core stored inside the entry.
Result<CoredumpEntry> coredump_core(const CoredumpEntry& listed);
// Writes the verdict back to the journal, naming the crash.
Status journal_verdict(const CoredumpEntry& entry, const Report& report);

// Error codes (docs/postmortem.md): PM001 cannot read, PM002 not an ELF
// core, PM003 truncated, PM004 wrong architecture, PM005 corrupt notes,
// PM006 bad zstd stream, PM007 build-id mismatch, PM008 journal error,
// PM009 no matching systemd-coredump entry.
Result<Report> analyze(const Options& options);

}  // namespace numatrace::postmortem
