// numa-trace journal: past numa-trace events and findings read back from the
// systemd journal (entries with NUMA_TRACE=1), filtered by time, code, pid.
#include <sys/stat.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli.h"
#include "codes.h"
#include "engine.h"

namespace numatrace::cli {

namespace {

// "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DD", or "-30s", "-10m", "-2h", "-1d".
bool parse_since(const std::string& s, uint64_t& usec) {
  if (s.size() > 1 && s[0] == '-') {
    char* end = nullptr;
    double n = std::strtod(s.c_str() + 1, &end);
    double unit = 1;
    if (*end == 'm')
      unit = 60;
    else if (*end == 'h')
      unit = 3600;
    else if (*end == 'd')
      unit = 86400;
    else if (*end != 's' && *end != 0)
      return false;
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
    usec = static_cast<uint64_t>((now - n * unit) * 1e6);
    return true;
  }
  tm t{};
  const char* rest = strptime(s.c_str(), "%Y-%m-%d %H:%M:%S", &t);
  if (!rest) rest = strptime(s.c_str(), "%Y-%m-%d", &t);
  if (!rest || *rest) return false;
  t.tm_isdst = -1;
  time_t when = mktime(&t);
  usec = static_cast<uint64_t>(when) * 1000000ull;
  return true;
}

// The fields an entry is shown with in --json: every NUMA_TRACE_* field it
// has (all of what the sink wrote), and these of the journal's own.
bool shown_field(const std::string& name) {
  static const char* kOthers[] = {"_HOSTNAME", "_MACHINE_ID",  "_BOOT_ID",          "_PID",
                                  "_COMM",     "_EXE",         "MESSAGE_ID",        "PRIORITY",
                                  "MESSAGE",   "COREDUMP_PID", "COREDUMP_TIMESTAMP"};
  if (name.rfind("NUMA_TRACE", 0) == 0) return true;
  for (const char* o : kOthers)
    if (name == o) return true;
  return false;
}

nlohmann::ordered_json entry_here(sd_journal* j) {
  nlohmann::ordered_json e;
  uint64_t usec = 0;
  sd_journal_get_realtime_usec(j, &usec);
  e["time_usec"] = usec;
  const void* d = nullptr;
  size_t n = 0;
  sd_journal_restart_data(j);
  while (sd_journal_enumerate_data(j, &d, &n) > 0) {
    std::string f(static_cast<const char*>(d), n);
    const size_t eq = f.find('=');
    if (eq == std::string::npos) continue;
    std::string name = f.substr(0, eq);
    if (shown_field(name) && !e.contains(name)) e[name] = f.substr(eq + 1);
  }
  return e;
}

std::string str(const nlohmann::ordered_json& e, const char* name, const char* none = "") {
  auto it = e.find(name);
  return it != e.end() && it->is_string() ? it->get<std::string>() : none;
}

// --by: entries grouped by host, finding code, model or program.
struct Group {
  std::string key;
  unsigned entries = 0, findings = 0;
  std::set<std::string> codes, hosts, programs, models;
  uint64_t first = 0, last = 0;
  std::string example;  // the newest finding's message, else the newest entry's
  bool example_is_finding = false;
};

void print_groups(const std::vector<nlohmann::ordered_json>& entries, const std::string& by, bool json) {
  std::map<std::string, Group> groups;
  // The model of entries written before NUMA_TRACE_MODEL existed: their
  // process's model_begin, when it is among the entries read.
  std::map<std::string, std::string> model_of_process;
  for (const auto& e : entries) {
    const std::string host = str(e, "_HOSTNAME", "?");
    const std::string process = host + "/" + str(e, "_BOOT_ID") + "/" + str(e, "_PID");
    std::string model = str(e, "NUMA_TRACE_MODEL");
    if (model.empty() && str(e, "NUMA_TRACE_EVENT") == "model_begin") model = str(e, "NUMA_TRACE_PATH");
    if (!model.empty())
      model_of_process[process] = model;
    else if (auto it = model_of_process.find(process); it != model_of_process.end())
      model = it->second;
    const std::string code = str(e, "NUMA_TRACE_CODE");
    const std::string program = str(e, "_COMM", "?");
    std::string key;
    if (by == "host")
      key = host;
    else if (by == "code")
      key = code;
    else if (by == "model")
      key = model.empty() ? "-" : model;
    else
      key = program;
    if (key.empty()) continue;  // --by code: entries that are not findings
    Group& g = groups[key];
    g.key = key;
    ++g.entries;
    const uint64_t t = e["time_usec"].get<uint64_t>();
    if (!g.first || t < g.first) g.first = t;
    g.last = std::max(g.last, t);
    g.hosts.insert(host);
    g.programs.insert(program);
    if (!model.empty()) g.models.insert(model);
    if (!code.empty()) {
      ++g.findings;
      g.codes.insert(code);
    }
    if (!code.empty() || !g.example_is_finding) {
      g.example = str(e, "MESSAGE");
      g.example_is_finding = !code.empty();
    }
  }
  std::vector<const Group*> sorted;
  for (const auto& [k, g] : groups) sorted.push_back(&g);
  std::sort(sorted.begin(), sorted.end(), [](const Group* a, const Group* b) {
    return a->findings != b->findings ? a->findings > b->findings : a->entries > b->entries;
  });
  if (json) {
    nlohmann::ordered_json out = nlohmann::ordered_json::array();
    for (const Group* g : sorted)
      out.push_back({{by, g->key},
                     {"entries", g->entries},
                     {"findings", g->findings},
                     {"codes", g->codes},
                     {"hosts", g->hosts},
                     {"programs", g->programs},
                     {"models", g->models},
                     {"first_usec", g->first},
                     {"last_usec", g->last},
                     {"example", g->example}});
    std::printf("%s\n", json_text(out).c_str());
    return;
  }
  if (sorted.empty()) {
    std::printf("no numa-trace entries match\n");
    return;
  }
  // The other side of the question: which codes a host hit, which hosts
  // hit a code.
  const bool show_hosts = by == "code";
  std::printf("%-24s %7s %8s  %-19s  %-19s  %-16s  %s\n",
              (by == "code"    ? "CODE"
               : by == "host"  ? "HOST"
               : by == "model" ? "MODEL"
                               : "PROGRAM"),
              "ENTRIES", "FINDINGS", "FIRST", "LAST", show_hosts ? "HOSTS" : "CODES", "EXAMPLE");
  for (const Group* g : sorted)
    std::printf("%-24s %7u %8u  %-19s  %-19s  %-16s  %s\n", printable(g->key).c_str(), g->entries, g->findings,
                local_time(g->first).c_str(), local_time(g->last).c_str(),
                printable(joined(show_hosts ? g->hosts : g->codes)).c_str(), printable(g->example).c_str());
}

}  // namespace

int run_journal(const JournalOptions& o) {
  if (!o.by.empty() && o.by != "host" && o.by != "code" && o.by != "model" && o.by != "program") {
    std::fprintf(stderr, "numa-trace journal: --by is host, code, model or program, not '%s'\n", o.by.c_str());
    return kUsage;
  }
  if (!o.directory.empty() && !o.files.empty()) {
    std::fprintf(stderr, "numa-trace journal: give -D DIR or --file FILE, not both\n");
    return kUsage;
  }
  uint64_t since_usec = 0;
  if (!o.since.empty() && !parse_since(o.since, since_usec)) {
    std::fprintf(stderr, "numa-trace journal: --since %s: use 'YYYY-MM-DD [HH:MM:SS]' or -N[smhd]\n", o.since.c_str());
    return kUsage;
  }
  sd_journal* raw = nullptr;
  int r = 0;
  std::string where = "journal";
  if (!o.directory.empty()) {
    where = o.directory;
    struct stat st {};
    r = stat(o.directory.c_str(), &st) != 0 ? -errno : S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
    if (r == 0) r = sd_journal_open_directory(&raw, o.directory.c_str(), 0);
  } else if (!o.files.empty()) {
    std::vector<const char*> paths;
    for (const auto& f : o.files) {
      // sd_journal_open_files says only EINVAL or ENOENT for all of them:
      // name the file first.
      if (access(f.c_str(), R_OK) != 0)
        return unusable(Error{ErrorKind::io, code::journal, f, "", std::strerror(errno)});
      paths.push_back(f.c_str());
    }
    paths.push_back(nullptr);
    where = o.files.size() == 1 ? o.files[0] : "journal files";
    r = sd_journal_open_files(&raw, paths.data(), 0);
  } else {
    r = sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY);
  }
  if (r < 0)
    return unusable(Error{ErrorKind::io, code::journal, where, "", std::string("cannot open: ") + std::strerror(-r)});
  std::unique_ptr<sd_journal, decltype(&sd_journal_close)> j(raw, sd_journal_close);
  auto match = [&](const std::string& m) { sd_journal_add_match(j.get(), m.data(), m.size()); };
  match("NUMA_TRACE=1");
  if (!o.code.empty()) match("NUMA_TRACE_CODE=" + o.code);
  if (!o.pid.empty()) match("_PID=" + o.pid);
  if (!o.event.empty()) match("NUMA_TRACE_EVENT=" + o.event);
  if (!o.host.empty()) match("_HOSTNAME=" + o.host);
  if (!o.since.empty())
    sd_journal_seek_realtime_usec(j.get(), since_usec);
  else
    sd_journal_seek_head(j.get());
  std::vector<nlohmann::ordered_json> entries;
  unsigned findings = 0;
  while ((r = sd_journal_next(j.get())) > 0) {
    nlohmann::ordered_json e = entry_here(j.get());
    findings += e.contains("NUMA_TRACE_CODE");
    entries.push_back(std::move(e));
  }
  if (r < 0)
    return unusable(
        Error{ErrorKind::io, code::journal, where, "", std::string("reading entries: ") + std::strerror(-r)});
  if (!o.by.empty()) {
    print_groups(entries, o.by, o.json);  // every finding read is in one group
    return findings ? kProblems : kOk;
  }
  if (o.lines && entries.size() > o.lines) entries.erase(entries.begin(), entries.end() - o.lines);
  if (o.json) {
    nlohmann::ordered_json out = entries;
    std::printf("%s\n", json_text(out).c_str());
  } else {
    // As journalctl's short output: time, host, program[pid]: message.
    for (const auto& e : entries)
      std::printf("%s %s %s[%s]: %s\n", local_time(e["time_usec"].get<uint64_t>()).c_str(),
                  printable(str(e, "_HOSTNAME", "?")).c_str(), printable(str(e, "_COMM", "?")).c_str(),
                  str(e, "_PID", "?").c_str(), printable(str(e, "MESSAGE")).c_str());
    if (entries.empty()) std::printf("no numa-trace entries match\n");
  }
  return findings ? kProblems : kOk;
}

}  // namespace numatrace::cli
