// numa-trace: the command that fronts the toolkit. Each subcommand lives in
// its own cmd_*.cpp; this file wires them and maps errors to exit codes.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "cli.h"
#include "process.h"

#include "version_info.h"  // NUMA_TRACE_COMMIT, generated at every build

#if !defined(NUMA_TRACE_VERSION) || !defined(NUMA_TRACE_BUILD_TYPE)
#error "NUMA_TRACE_VERSION and NUMA_TRACE_BUILD_TYPE must be defined by the build"
#endif

// An ASan build of numa-trace must not change what `numa-trace run` hands
// the program: ASan's default (disable_coredump=1) sets RLIMIT_CORE to 0 at
// start, and the program would inherit it and write no core.
#if defined(__SANITIZE_ADDRESS__)
extern "C" const char* __asan_default_options() {
  return "disable_coredump=0";
}
#endif

namespace {

// The subcommands in `numa-trace --help`: one line each, as git, systemctl
// and coredumpctl list theirs; the whole text is in `numa-trace SUB
// --help` and the man pages.
struct Listed {
  const char* name;
  const char* summary;
};
constexpr Listed kSummaries[] = {
    {"gen-model", "Write a synthetic split GGUF model whose every byte can be verified"},
    {"inspect", "Check a split GGUF model as the loader reads it"},
    {"check", "Say whether a model fits this machine's nodes, before loading it"},
    {"run", "Run a loader traced (also: numa-trace PROGRAM ARGS...)"},
    {"report", "Summarize a trace: mappings, placement, resolves, findings, crash"},
    {"placement", "Show which nodes a running process's model weights are on"},
    {"postmortem", "Decode core dumps: which slot was null, for which tensor, and why"},
    {"diagnose", "Judge one thread from facts a debugger gathered (used by gdb)"},
    {"journal", "Read numa-trace's entries back from the systemd journal"},
    {"demo", "Show the toolkit end to end on a generated model"},
};

class ListFormatter : public CLI::Formatter {
 public:
  std::string make_subcommand(const CLI::App* sub) const override {
    for (const Listed& l : kSummaries)
      if (sub->get_name() == l.name) {
        std::stringstream out;
        CLI::detail::format_help(out, l.name, l.summary, get_column_width());
        return out.str();
      }
    return CLI::Formatter::make_subcommand(sub);
  }
};

}  // namespace

// An exception that escapes (std::bad_alloc) ends the command through
// std::terminate, with its message.
int main(int argc, char** argv) {  // NOLINT(bugprone-exception-escape)
  using namespace numatrace::cli;
  CLI::App app{
      "numa-trace: trace, check and explain how model loaders map multi-part GGUF files on NUMA machines.\n"
      "Exit status: 0 nothing wrong, 1 problems reported, 2 usage or I/O error.\n"
      "The details: numa-trace SUBCOMMAND --help, and man numa-trace.",
      "numa-trace"};
  app.formatter(std::make_shared<ListFormatter>());
  app.set_version_flag(
      "--version", "numa-trace " NUMA_TRACE_VERSION " (commit " NUMA_TRACE_COMMIT ", " NUMA_TRACE_BUILD_TYPE " build)");
  app.require_subcommand(1);
  app.fallthrough(false);

  // Each subcommand registers its options and help; only the one named is
  // registered (building all of them is most of the command's start, which
  // `numa-trace run` adds to every traced program's), all of them for
  // --help, --version, or a word that names none.
  using Add = Command (*)(CLI::App&);
  static constexpr std::pair<const char*, Add> kSubcommands[] = {
      {"gen-model", add_gen_model},   {"inspect", add_inspect},
      {"check", add_check},           {"run", add_run},
      {"report", add_report},         {"placement", add_placement},
      {"postmortem", add_postmortem}, {"diagnose", add_diagnose},
      {"journal", add_journal},       {"demo", add_demo},
  };
  std::vector<Command> commands;
  std::vector<char*> args(argv, argv + argc);
  const std::string first = argc > 1 ? argv[1] : "";
  Add only = nullptr;
  for (const auto& [name, add] : kSubcommands)
    if (first == name) only = add;
  // `numa-trace PROGRAM ARGS...` (as heaptrack, strace, valgrind are used)
  // is `numa-trace run -- PROGRAM ARGS...` when PROGRAM is no subcommand.
  if (!only && !first.empty() && first[0] != '-') {
    if (which(first).empty()) {
      std::fprintf(stderr,
                   "numa-trace: '%s' is neither a subcommand (numa-trace --help lists them) nor a program to run\n",
                   argv[1]);
      return kUsage;
    }
    static char run[] = "run", dashes[] = "--";
    args.insert(args.begin() + 1, {run, dashes});
    only = add_run;
  }
  if (only)
    commands.push_back(only(app));
  else
    for (const auto& [name, add] : kSubcommands) commands.push_back(add(app));

  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kUsage;
  }
  try {
    for (const auto& c : commands)
      if (c.sub->parsed()) return c.run();
  } catch (const std::exception& ex) {
    std::fprintf(stderr, "numa-trace: internal error: %s\n", ex.what());
    return kUsage;
  }
  return kUsage;
}
