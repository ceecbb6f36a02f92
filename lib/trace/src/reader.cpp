#include "numatrace/trace/reader.h"
#include "numatrace/fs.h"
#include "numatrace/text.h"
#include "numatrace/trace/codes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace numatrace::trace {

namespace {

Error err(ErrorKind kind, const char* code, const std::string& path, std::string field, std::string message) {
  return Error{kind, code, path, std::move(field), std::move(message)};
}

}  // namespace

double Trace::ns_per_tsc() const {
  // A counter between 1 MHz and 1 THz; anything else (a damaged summary,
  // NaN) is not a clock rate.
  if (summary && summary->ns_per_tsc >= 1e-3 && summary->ns_per_tsc <= 1e3) return summary->ns_per_tsc;
  if (header.clock == NT_TRACE_CLOCK_NS) return 1.0;  // nanoseconds: exact without a summary
  return 1.0 / 2.5;                                   // no summary: assume a 2.5 GHz counter (shown as estimated)
}

uint64_t Trace::ns(uint64_t tsc) const {
  if (tsc <= header.tsc0) return 0;
  const double v = static_cast<double>(tsc - header.tsc0) * ns_per_tsc();
  return v < 1.8e19 ? static_cast<uint64_t>(v) : UINT64_MAX;  // saturates past uint64_t
}

Result<Trace> read_trace(const std::string& path) {
  std::string why;
  struct stat st {};
  int fd = open_regular(path, why, &st);
  if (fd < 0) return err(ErrorKind::io, code::io, path, "", why);
  std::vector<char> bytes(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < bytes.size()) {
    ssize_t r = read(fd, bytes.data() + got, bytes.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += static_cast<size_t>(r);
  }
  close(fd);
  bytes.resize(got);
  return parse_trace(bytes, path);
}

Result<Trace> parse_trace(std::span<const char> bytes, const std::string& path) {
  Trace t;
  t.path = path;
  if (bytes.size() < sizeof(nt_trace_header))
    return err(ErrorKind::invalid, code::not_trace, path, "header",
               "the file has " + std::to_string(bytes.size()) + " bytes, less than a trace header (64)");
  std::memcpy(&t.header, bytes.data(), sizeof t.header);
  if (std::memcmp(t.header.magic, NT_TRACE_MAGIC, sizeof NT_TRACE_MAGIC) != 0)
    return err(ErrorKind::invalid, code::not_trace, path, "header.magic", "not a numa-trace binary trace");
  if (t.header.version != NT_TRACE_VERSION)
    return err(ErrorKind::invalid, code::version, path, "header.version",
               "version " + std::to_string(t.header.version) + " is not known to this numa-trace (it reads version " +
                   std::to_string(NT_TRACE_VERSION) + ")");
  // The event, finding and crash payloads are the flight recorder's records.
  if (t.header.recorder_version != NT_FR_VERSION)
    return err(ErrorKind::invalid, code::version, path, "header.recorder_version",
               "written by a recorder of layout version " + std::to_string(t.header.recorder_version) +
                   "; this numa-trace reads version " + std::to_string(NT_FR_VERSION));
  if (t.header.header_size < sizeof(nt_trace_header) || t.header.header_size > bytes.size() ||
      t.header.event_size != sizeof(nt_fr_event))
    return err(ErrorKind::invalid, code::layout, path, "header",
               "header size " + std::to_string(t.header.header_size) + " or event size " +
                   std::to_string(t.header.event_size) + " disagrees with this numa-trace's layout");

  size_t at = t.header.header_size;
  auto stop = [&](const char* code, std::string message) {
    t.stopped = err(ErrorKind::invalid, code, path, "record at " + hex(at), std::move(message));
  };
  while (at < bytes.size()) {
    if (bytes.size() - at < sizeof(nt_trace_record_header)) {
      stop(code::cut_short, "cut inside a record header (the trace was cut short)");
      break;
    }
    nt_trace_record_header rh;
    std::memcpy(&rh, bytes.data() + at, sizeof rh);
    const size_t payload = at + sizeof rh;
    const size_t padded = (static_cast<size_t>(rh.length) + 7) / 8 * 8;
    if (rh.length > bytes.size() - payload) {
      stop(code::cut_short,
           "record of " + std::to_string(rh.length) + " bytes runs past the end (the trace was cut short)");
      break;
    }
    const char* p = bytes.data() + payload;
    auto need = [&](size_t n, bool exact) {
      if (exact ? rh.length == n : rh.length >= n) return true;
      stop(code::bad_record, "record type " + std::to_string(rh.type) + " has " + std::to_string(rh.length) +
                                 " bytes, expected " + (exact ? "" : "at least ") + std::to_string(n));
      return false;
    };
    bool ok = true;
    switch (rh.type) {
      case NT_REC_EVENT:
        if ((ok = need(sizeof(nt_fr_event), true))) {
          nt_fr_event e;
          std::memcpy(&e, p, sizeof e);
          e.name[NT_FR_NAME - 1] = 0;
          t.events.push_back(e);
        }
        break;
      case NT_REC_STRING:
        if ((ok = need(8, false))) {
          uint64_t seq;
          std::memcpy(&seq, p, 8);
          t.strings[seq] = std::string(p + 8, rh.length - 8);
        }
        break;
      case NT_REC_CRASH:
        if ((ok = need(sizeof(nt_fr_crash), true))) {
          nt_fr_crash c;
          std::memcpy(&c, p, sizeof c);
          if (c.n_pcs > NT_FR_MAX_PCS) c.n_pcs = NT_FR_MAX_PCS;
          t.crash = c;
        }
        break;
      case NT_REC_SUMMARY:
        if ((ok = need(sizeof(nt_trace_summary), true))) {
          nt_trace_summary s;
          std::memcpy(&s, p, sizeof s);
          t.summary = s;
          t.complete = true;
        }
        break;
      case NT_REC_FINDING:
        if ((ok = need(sizeof(nt_fr_finding), false))) {
          RecordedFinding f;
          std::memcpy(&f.finding, p, sizeof f.finding);
          f.finding.name[NT_FR_NAME - 1] = 0;
          f.text.assign(p + sizeof f.finding, rh.length - sizeof f.finding);
          t.findings.push_back(std::move(f));
        }
        break;
      case NT_REC_DROPPED:
        if ((ok = need(16, true))) {
          Dropped d;
          std::memcpy(&d, p, sizeof d);
          t.dropped.push_back(d);
        }
        break;
      default: break;  // a newer record type: skipped by its length
    }
    if (!ok) break;
    at = payload + std::min(padded, bytes.size() - payload);
  }
  return t;
}

}  // namespace numatrace::trace
