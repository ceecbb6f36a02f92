// Shared pieces of the numa-trace command: exit codes, error printing,
// number formatting. Subcommands register themselves in main.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <set>
#include <string>

#include "numatrace/result.h"
#include "numatrace/text.h"

namespace numatrace::cli {

// Exit codes, the same for every subcommand (docs/numa-trace.md).
enum Exit : int {
  kOk = 0,        // done, nothing wrong found
  kProblems = 1,  // done, and problems or findings were reported
  kUsage = 2,     // wrong arguments, or an input that could not be read
};

// A subcommand: registered on the top-level app, run after parsing when
// the user named it.
struct Command {
  CLI::App* sub;
  std::function<int()> run;
};
Command add_gen_model(CLI::App& app);
Command add_inspect(CLI::App& app);
Command add_check(CLI::App& app);
Command add_placement(CLI::App& app);
Command add_report(CLI::App& app);
Command add_demo(CLI::App& app);
Command add_run(CLI::App& app);
Command add_postmortem(CLI::App& app);
Command add_diagnose(CLI::App& app);
Command add_journal(CLI::App& app);

struct ReportOptions {
  std::string trace;
  bool json = false;
  std::string chrome_trace;        // also write the Chrome trace event format here
  std::string html;                // also write the report as an HTML page here
  uint32_t remote_threshold = 60;  // NT015, percent (rules::kDefaultRemoteThresholdPct)
};
// numa-trace report, also used by the demo.
int print_report(const ReportOptions& o);

// Errors, by one policy for every subcommand (docs/numa-trace.md, EXIT
// STATUS). Each prints "numa-trace: FILE: CODE FIELD: message" on stderr.
void print_error(const Error& e);
// An input the subcommand cannot use at all (unreadable, not a trace or a
// core, a version it does not read): exit 2.
int unusable(const Error& e);
// An input the subcommand exists to check (a GGUF model for inspect): one
// that was read and is wrong is a problem found, exit 1; one that could not
// be read, exit 2.
int checked(const Error& e);

std::string human_bytes(uint64_t v);  // "64.0 MiB"
// A wall-clock time in microseconds as local "YYYY-MM-DD HH:MM:SS"; "-" for 0.
std::string local_time(uint64_t usec);
// The set's values joined by commas; "-" when empty.
std::string joined(const std::set<std::string>& values);

// JSON text of any nlohmann document. Names and paths come from untrusted
// inputs and need not be UTF-8: an invalid byte becomes U+FFFD rather than
// failing the whole output (docs/numa-trace.md, "JSON").
template <class Json>
std::string json_text(const Json& j, int indent = 2) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// A name or path from an input, made safe for a terminal: control bytes
// (and DEL) are shown as \xNN, so a tensor name cannot move the cursor or
// change colours. Valid UTF-8 passes unchanged.
std::string printable(const std::string& s);

// Progress on stderr, only when stderr is a terminal; finish() erases it.
class Progress {
 public:
  explicit Progress(std::string what);
  void update(uint64_t done, uint64_t total);
  void finish();

 private:
  std::string what_;
  bool tty_;
  int last_percent_ = -1;
};

}  // namespace numatrace::cli
