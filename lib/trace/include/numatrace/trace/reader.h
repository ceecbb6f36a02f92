// Reading binary traces (docs/trace-format.md). A trace cut short (the
// traced process was killed, the disk filled) is read up to its last whole
// record; `complete` says whether the summary record closed it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "numatrace/result.h"
#include "numatrace/trace_format.h"

namespace numatrace::trace {

struct RecordedFinding {
  nt_fr_finding finding;
  std::string text;  // the one-line wording, as printed by the recorder
};

struct Dropped {
  uint64_t first_seq, count;
};

struct Trace {
  std::string path;
  nt_trace_header header{};
  std::vector<nt_fr_event> events;          // in seq order
  std::map<uint64_t, std::string> strings;  // event seq -> path
  std::vector<RecordedFinding> findings;
  std::vector<Dropped> dropped;
  std::optional<nt_fr_crash> crash;
  std::optional<nt_trace_summary> summary;
  bool complete = false;         // ended with a summary record
  std::optional<Error> stopped;  // why reading stopped early, if it did

  double ns_per_tsc() const;        // from the summary, else estimated
  uint64_t ns(uint64_t tsc) const;  // time since start
};

// Error codes (docs/trace-format.md): TR001 cannot read, TR002 not a trace,
// TR003 unknown version, TR004 header sizes disagree, TR005 truncated
// record (Trace::stopped), TR006 a record of the wrong size.
Result<Trace> read_trace(const std::string& path);
// The same for a trace already in memory; `path` only names it in errors.
Result<Trace> parse_trace(std::span<const char> bytes, const std::string& path);

}  // namespace numatrace::trace
