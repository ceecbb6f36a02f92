// numa-trace journal: past numa-trace events and findings read back from the
// systemd journal (entries with NUMA_TRACE=1), filtered by time, code, pid.
#include <systemd/sd-journal.h>
#include <time.h>

#include <cstdio>
#include <cstring>
#include <memory>

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

std::string field(sd_journal* j, const char* name) {
  const void* d = nullptr;
  size_t n = 0;
  if (sd_journal_get_data(j, name, &d, &n) < 0) return {};
  std::string s(static_cast<const char*>(d), n);
  auto eq = s.find('=');
  return eq == std::string::npos ? "" : s.substr(eq + 1);
}

}  // namespace

int run_journal(const JournalOptions& o) {
  sd_journal* raw = nullptr;
  int r = sd_journal_open(&raw, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0)
    return unusable(
        Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_open: ") + std::strerror(-r)});
  std::unique_ptr<sd_journal, decltype(&sd_journal_close)> j(raw, sd_journal_close);
  auto match = [&](const std::string& m) { sd_journal_add_match(j.get(), m.data(), m.size()); };
  match("NUMA_TRACE=1");
  if (!o.code.empty()) match("NUMA_TRACE_CODE=" + o.code);
  if (!o.pid.empty()) match("_PID=" + o.pid);
  if (!o.event.empty()) match("NUMA_TRACE_EVENT=" + o.event);
  if (!o.since.empty()) {
    uint64_t usec = 0;
    if (!parse_since(o.since, usec)) {
      std::fprintf(stderr, "numa-trace journal: --since %s: use 'YYYY-MM-DD [HH:MM:SS]' or -N[smhd]\n",
                   o.since.c_str());
      return kUsage;
    }
    sd_journal_seek_realtime_usec(j.get(), usec);
  } else {
    sd_journal_seek_head(j.get());
  }
  static const char* kFields[] = {"NUMA_TRACE_EVENT",
                                  "NUMA_TRACE_CODE",
                                  "NUMA_TRACE_SLOT",
                                  "NUMA_TRACE_FILE_IDX",
                                  "NUMA_TRACE_TENSOR",
                                  "NUMA_TRACE_OFFSET",
                                  "NUMA_TRACE_NODE",
                                  "NUMA_TRACE_KIND",
                                  "NUMA_TRACE_BASE",
                                  "NUMA_TRACE_LENGTH",
                                  "NUMA_TRACE_RESOLVES",
                                  "NUMA_TRACE_BYTES",
                                  "_PID",
                                  "_COMM",
                                  "MESSAGE_ID",
                                  "PRIORITY",
                                  "MESSAGE"};
  std::vector<nlohmann::ordered_json> entries;
  unsigned findings = 0;
  while ((r = sd_journal_next(j.get())) > 0) {
    uint64_t usec = 0;
    sd_journal_get_realtime_usec(j.get(), &usec);
    nlohmann::ordered_json e;
    e["time_usec"] = usec;
    for (const char* f : kFields)
      if (auto v = field(j.get(), f); !v.empty()) e[f] = v;
    findings += e.contains("NUMA_TRACE_CODE");
    entries.push_back(std::move(e));
  }
  if (r < 0)
    return unusable(
        Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_next: ") + std::strerror(-r)});
  if (o.lines && entries.size() > o.lines) entries.erase(entries.begin(), entries.end() - o.lines);
  if (o.json) {
    nlohmann::ordered_json out = entries;
    std::printf("%s\n", json_text(out).c_str());
  } else {
    for (const auto& e : entries) {
      time_t secs = static_cast<time_t>(e["time_usec"].get<uint64_t>() / 1000000);
      char when[32];
      strftime(when, sizeof when, "%F %T", localtime(&secs));
      std::printf("%s %s[%s]: %s\n", when, e.value("_COMM", std::string("?")).c_str(),
                  e.value("_PID", std::string("?")).c_str(), e.value("MESSAGE", std::string()).c_str());
    }
    if (entries.empty()) std::printf("no numa-trace entries match\n");
  }
  return findings ? kProblems : kOk;
}

}  // namespace numatrace::cli
