// A trace summarized for `numa-trace report` (trace_summary.cpp): what
// both the text and the JSON show (render_report.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "numatrace/rules/engine.h"
#include "numatrace/rules/remote.h"
#include "numatrace/trace/reader.h"

namespace numatrace::cli {

struct TraceSummary {
  std::unique_ptr<rules::Recorder> tables;  // the recorder's tables, replayed from the events
  std::map<int32_t, uint64_t> resolves_per_file, bytes_per_file;
  std::map<int, uint64_t> resolves_per_node;  // by the resolving thread's node
  std::set<uint32_t> threads;                 // that resolved
  std::string model_path;
  std::map<int32_t, std::string> file_paths;  // file idx -> path, from the file open events
  struct Reads {                              // a file's reads into the program's own memory (no mmap)
    uint64_t count = 0, bytes = 0;
    std::map<int, uint64_t> bytes_by_page_node;  // -1: not known
  };
  std::map<int32_t, Reads> reads;
  uint64_t first_ns = UINT64_MAX, last_ns = 0;
  // The load's timeline: when each phase happened, from the trace's start.
  struct Phase {
    uint64_t first = UINT64_MAX, last = 0, count = 0;
    void add(uint64_t ns) {
      first = std::min(first, ns);
      last = std::max(last, ns);
      ++count;
    }
  };
  std::map<std::string, Phase> phases;
  uint64_t resolved_bytes = 0;
  // Remote reads (NT015) of the trace's last load, judged at `remote_threshold_pct`.
  std::unique_ptr<rules::RemoteReads> remote;
  uint32_t remote_threshold_pct = rules::kDefaultRemoteThresholdPct;
  int nodes = 1;  // columns of the placement tables (at most NT_FR_MAX_NODES)
  // Findings by code: those the traced process recorded, those the replay
  // finds that it did not record (online checks off, an older numa-trace,
  // a finding lost with the events a sink dropped), and NT013 for a crash
  // no finding explains, so that every problem has a code.
  struct Group {
    uint64_t count = 0, replay_only = 0;
    const trace::RecordedFinding* first = nullptr;  // in the trace, `replayed` or `synthesized`
  };
  std::vector<trace::RecordedFinding> replayed, synthesized;
  std::map<std::string, Group> by_code;
  uint64_t dropped = 0;  // events the sink lost

  // The files a mapping holds: its extents (unified, replica), else the
  // file of its slot (per-file: slot i maps file i, as upstream).
  std::vector<int32_t> files_of(const nt_fr_mapping& m) const;
  std::string path_of(int32_t f) const;
  // A finding that is not advice (NT015): one that can explain a crash.
  bool beyond_advice() const {
    for (const auto& [code, g] : by_code)
      if (!rules::is_advice(g.first->finding.code)) return true;
    return false;
  }
  bool problems(const trace::Trace& t) const { return beyond_advice() || t.crash.has_value(); }
};

inline constexpr const char* kPhaseOrder[] = {
    "model begin",        "mappings created", "splits read",        "tensors resolved",
    "fragments unmapped", "model end",        "mappings destroyed", "crash"};

TraceSummary summarize(const trace::Trace& t, uint32_t remote_threshold_pct = rules::kDefaultRemoteThresholdPct);

}  // namespace numatrace::cli
