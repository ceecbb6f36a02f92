// Finding a core that systemd-coredump caught, through sd-journal, and
// writing a verdict back to the journal.
#include <fcntl.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "numatrace/postmortem/codes.h"
#include "numatrace/postmortem/postmortem.h"
#include "numatrace/rules/codes.h"

namespace numatrace::postmortem {

namespace {

constexpr const char* kCoredumpMessageId = "fc2e22bc6ee647b6b90729ab34a250b1";

std::string get(sd_journal* j, const char* field) {
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, field, &data, &len) < 0) return {};
  std::string s(static_cast<const char*>(data), len);
  size_t eq = s.find('=');
  return eq == std::string::npos ? std::string() : s.substr(eq + 1);
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

}  // namespace

namespace {

using Journal = std::unique_ptr<sd_journal, decltype(&sd_journal_close)>;

Result<Journal> open_journal() {
  sd_journal* j = nullptr;
  int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0)
    return Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_open: ") + std::strerror(-r)};
  return Journal(j, sd_journal_close);
}

// The entry the journal is at: its fields, without the core itself.
CoredumpEntry entry_here(sd_journal* j) {
  CoredumpEntry e;
  e.pid = get(j, "COREDUMP_PID");
  e.exe = get(j, "COREDUMP_EXE");
  e.comm = get(j, "COREDUMP_COMM");
  e.timestamp = get(j, "COREDUMP_TIMESTAMP");
  e.signal = get(j, "COREDUMP_SIGNAL_NAME");
  e.filename = get(j, "COREDUMP_FILENAME");
  e.hostname = get(j, "COREDUMP_HOSTNAME");
  if (e.hostname.empty()) e.hostname = get(j, "_HOSTNAME");
  char* cursor = nullptr;
  if (sd_journal_get_cursor(j, &cursor) >= 0) {
    e.cursor = cursor;
    free(cursor);
  }
  return e;
}

// The core of the entry the journal is at: its file, or (Storage=journal)
// the core inside the entry written to a temporary file.
Result<CoredumpEntry> core_here(sd_journal* j) {
  CoredumpEntry e = entry_here(j);
  if (!e.filename.empty() && access(e.filename.c_str(), R_OK) == 0) return e;
  const void* data = nullptr;
  size_t len = 0;
  if (sd_journal_get_data(j, "COREDUMP", &data, &len) >= 0 && len > 9) {
    const char* dir = getenv("TMPDIR");
    std::string path = std::string(dir && *dir ? dir : "/tmp") + "/numa-trace-coredump-XXXXXX";
    int fd = mkstemp(path.data());
    if (fd < 0) return Error{ErrorKind::io, code::io, path, "", std::strerror(errno)};
    const char* p = static_cast<const char*>(data) + 9;  // after "COREDUMP="
    size_t n = len - 9;
    bool ok = write(fd, p, n) == static_cast<ssize_t>(n);
    close(fd);
    if (!ok) {
      unlink(path.c_str());
      return Error{ErrorKind::io, code::io, path, "", "writing the core failed"};
    }
    e.filename = path;
    e.temporary = true;
    return e;
  }
  return Error{ErrorKind::io, code::no_core, "journal", "COREDUMP_FILENAME",
               e.filename.empty() ? "the entry for PID " + e.pid + " holds no core (too large, or Storage=none)"
                                  : e.filename + " is gone (removed by systemd-tmpfiles or coredump's vacuum?)"};
}

}  // namespace

Result<std::vector<CoredumpEntry>> find_coredumps(const std::string& match, bool newest_only) {
  auto opened = open_journal();
  if (!opened) return opened.error();
  sd_journal* j = opened->get();
  std::string id = std::string("MESSAGE_ID=") + kCoredumpMessageId;
  sd_journal_add_match(j, id.data(), id.size());
  // As coredumpctl: a number is a PID, a path is the executable, anything
  // else the command name.
  std::string m;
  if (all_digits(match))
    m = "COREDUMP_PID=" + match;
  else if (match.find('/') != std::string::npos)
    m = "COREDUMP_EXE=" + match;
  else
    m = "COREDUMP_COMM=" + match.substr(0, 15);
  if (!match.empty()) sd_journal_add_match(j, m.data(), m.size());
  std::vector<CoredumpEntry> found;
  int r = 0;
  if (newest_only) {
    if ((r = sd_journal_seek_tail(j)) < 0)
      return Error{ErrorKind::io, code::journal, "journal", "",
                   std::string("sd_journal_seek_tail: ") + std::strerror(-r)};
    r = sd_journal_previous(j);
    if (r > 0) found.push_back(entry_here(j));
  } else {
    while ((r = sd_journal_next(j)) > 0) found.push_back(entry_here(j));
  }
  if (r < 0)
    return Error{ErrorKind::io, code::journal, "journal", "", std::string("reading the journal: ") + std::strerror(-r)};
  if (found.empty())
    return Error{ErrorKind::io, code::no_core, "journal", match.empty() ? "" : m,
                 "no systemd-coredump entry matches (is systemd-coredump installed, and journald running?)"};
  return found;
}

Result<CoredumpEntry> coredump_core(const CoredumpEntry& listed) {
  auto opened = open_journal();
  if (!opened) return opened.error();
  sd_journal* j = opened->get();
  int r = sd_journal_seek_cursor(j, listed.cursor.c_str());
  if (r >= 0) r = sd_journal_next(j);
  if (r > 0 && sd_journal_test_cursor(j, listed.cursor.c_str()) > 0) return core_here(j);
  return Error{ErrorKind::io, code::no_core, "journal", "",
               "the systemd-coredump entry for PID " + listed.pid + " is gone (rotated or vacuumed)"};
}

Result<CoredumpEntry> find_coredump(const std::string& match) {
  auto listed = find_coredumps(match, true);
  if (!listed) return listed.error();
  return coredump_core(listed->front());
}

Status journal_verdict(const CoredumpEntry& entry, const Report& report) {
  std::string code = report.findings.empty() ? "" : rules::code_info(report.findings.front().code).id;
  int r = sd_journal_send("MESSAGE_ID=%s", rules::kVerdictMessageId, "PRIORITY=3", "SYSLOG_IDENTIFIER=numa-trace",
                          "NUMA_TRACE=1", "NUMA_TRACE_EVENT=verdict", "MESSAGE=numa-trace postmortem: %s",
                          report.verdict.c_str(), "COREDUMP_PID=%s", entry.pid.c_str(), "COREDUMP_TIMESTAMP=%s",
                          entry.timestamp.c_str(), "NUMA_TRACE_CORE=%s", entry.filename.c_str(), "NUMA_TRACE_CODE=%s",
                          code.c_str(), nullptr);
  if (r < 0)
    return Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_send: ") + std::strerror(-r)};
  return ok_status();
}

}  // namespace numatrace::postmortem
