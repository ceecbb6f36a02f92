// Finding a core that systemd-coredump caught, through sd-journal, and
// writing a verdict back to the journal.
#include <fcntl.h>
#include <systemd/sd-journal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

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

Result<CoredumpEntry> find_coredump(const std::string& match) {
  sd_journal* j = nullptr;
  int r = sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY);
  if (r < 0)
    return Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_open: ") + std::strerror(-r)};
  std::unique_ptr<sd_journal, decltype(&sd_journal_close)> guard(j, sd_journal_close);
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
  if ((r = sd_journal_seek_tail(j)) < 0)
    return Error{ErrorKind::io, code::journal, "journal", "",
                 std::string("sd_journal_seek_tail: ") + std::strerror(-r)};
  r = sd_journal_previous(j);
  if (r < 0)
    return Error{ErrorKind::io, code::journal, "journal", "", std::string("sd_journal_previous: ") + std::strerror(-r)};
  if (r == 0)
    return Error{ErrorKind::io, code::no_core, "journal", match.empty() ? "" : m,
                 "no systemd-coredump entry matches (is systemd-coredump installed, and journald running?)"};
  CoredumpEntry e;
  e.pid = get(j, "COREDUMP_PID");
  e.exe = get(j, "COREDUMP_EXE");
  e.comm = get(j, "COREDUMP_COMM");
  e.timestamp = get(j, "COREDUMP_TIMESTAMP");
  e.signal = get(j, "COREDUMP_SIGNAL_NAME");
  e.filename = get(j, "COREDUMP_FILENAME");
  if (!e.filename.empty() && access(e.filename.c_str(), R_OK) == 0) return e;
  // Storage=journal: the core is inside the entry.
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
    if (!ok) return Error{ErrorKind::io, code::io, path, "", "writing the core failed"};
    e.filename = path;
    e.temporary = true;
    return e;
  }
  return Error{ErrorKind::io, code::no_core, "journal", "COREDUMP_FILENAME",
               e.filename.empty() ? "the entry for PID " + e.pid + " holds no core (too large, or Storage=none)"
                                  : e.filename + " is gone (removed by systemd-tmpfiles or coredump's vacuum?)"};
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
