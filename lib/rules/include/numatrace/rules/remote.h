// Remote reads (NT015, advice): the share of the bytes a load resolved that
// lie on another NUMA node than the node of the thread that resolved them.
//
// Resolves are counted per (mapping, or file extent of a unified or
// replica mapping) and resolving thread's node as they happen; the share is
// estimated when the load is judged (model end, else the end of the trace
// or process), from the placement sample of each mapping or extent: a
// resolve of B bytes by a thread on node n, of a file whose sampled present
// pages are P in all and P[n] on node n, counts B * (P - P[n]) / P remote
// bytes. Bytes of a file whose pages were never sampled, and of threads
// whose node is unknown, are counted apart and never called remote.
//
// Same constraints as engine.h (header-only, no allocation, no libc beyond
// memset): the recorder's drainer runs it in the traced process on its own
// copy (about 74 KiB, static), the report and the post-mortem offline.
#pragma once

#include <cstdint>
#include <cstring>

#include "numatrace/rules/engine.h"

namespace numatrace::rules {

// The default threshold, in percent of the bytes resolved with known
// placement: above what an even interleave over two nodes gives (50%).
inline constexpr uint32_t kDefaultRemoteThresholdPct = 60;

struct RemoteReads {
  static constexpr int kUnknownNode = NT_FR_MAX_NODES;  // the column of threads whose node is unknown
  uint64_t mapping_bytes[NT_FR_MAX_MAPPINGS][NT_FR_MAX_NODES + 1];
  uint64_t extent_bytes[NT_FR_MAX_EXTENTS][NT_FR_MAX_NODES + 1];
  uint64_t unattributed;  // bytes of resolves through no recorded mapping (a finding says why)
  uint64_t last_seq;      // seq of the last resolve counted; 0: none since reset

  void reset() { std::memset(this, 0, sizeof *this); }

  // A resolve event, through mapping `mi` (as check_resolve found it; -1
  // none).
  void add(const Recorder& r, const nt_fr_event& ev, int mi) {
    const int col = ev.node < 0 ? kUnknownNode : ev.node < NT_FR_MAX_NODES ? ev.node : NT_FR_MAX_NODES - 1;
    last_seq = ev.seq;
    if (mi < 0 || static_cast<uint32_t>(mi) >= mapping_count(r)) {
      unattributed += ev.b;
      return;
    }
    if (!holds_files(r.mappings[mi])) {
      mapping_bytes[mi][col] += ev.b;
      return;
    }
    const nt_fr_extent* e = find_extent(r, mi, ev.file_idx);
    if (e)
      extent_bytes[e - r.extents][col] += ev.b;
    else
      unattributed += ev.b;
  }
};

// What threads of one node resolved of one file through one mapping.
struct RemoteCell {
  int mapping;
  int32_t file_idx;
  int reader_node;  // -1: unknown
  uint64_t bytes;
  uint64_t remote;  // estimated, 0 when not sampled or the node is unknown
  bool sampled;     // the placement of these pages was sampled (some present)
  int home_node;    // the node holding most of the sampled pages, -1 none
};

// Calls f(const RemoteCell&) for every non-empty cell.
template <class F>
void for_each_remote_cell(const Recorder& r, const RemoteReads& a, F&& f) {
  auto cells = [&](int mi, int32_t file, const uint64_t(&bytes)[NT_FR_MAX_NODES + 1],
                   const uint32_t(&hist)[NT_FR_MAX_NODES]) {
    uint64_t present = 0;
    const int home = home_node(hist, present);
    for (int col = 0; col <= NT_FR_MAX_NODES; ++col) {
      if (!bytes[col]) continue;
      RemoteCell c{mi, file, col == RemoteReads::kUnknownNode ? -1 : col, bytes[col], 0, present > 0, home};
      if (c.sampled && c.reader_node >= 0) c.remote = bytes[col] * (present - hist[col]) / present;
      f(c);
    }
  };
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (!holds_files(m)) {
      cells(static_cast<int>(i), m.slot, a.mapping_bytes[i], m.placement);
      continue;
    }
    for (uint64_t e = m.first_extent, end = e + m.n_extents; e < end && e < NT_FR_MAX_EXTENTS; ++e)
      cells(static_cast<int>(i), r.extents[e].file_idx, a.extent_bytes[e], r.extents[e].placement);
  }
}

struct RemoteTotals {
  uint64_t bytes = 0;                             // resolved by threads of a known node, of sampled pages
  uint64_t remote = 0;                            // of those, estimated on another node
  uint64_t not_sampled = 0;                       // resolved of pages never sampled
  uint64_t unknown_node = 0;                      // resolved by threads whose node is unknown
  RemoteCell worst{-1, -1, -1, 0, 0, false, -1};  // the cell with the most remote bytes
};

inline RemoteTotals remote_totals(const Recorder& r, const RemoteReads& a) {
  RemoteTotals t;
  for_each_remote_cell(r, a, [&](const RemoteCell& c) {
    if (c.reader_node < 0)
      t.unknown_node += c.bytes;
    else if (!c.sampled)
      t.not_sampled += c.bytes;
    else {
      t.bytes += c.bytes;
      t.remote += c.remote;
      if (c.remote > t.worst.remote) t.worst = c;
    }
  });
  return t;
}

// The load's NT015, when its remote share reaches `threshold_pct`. The
// finding's seq is the load's last resolve, so the traced process and a
// replay of its trace name the same finding.
inline int check_remote_reads(const Recorder& r, const RemoteReads& a, uint32_t threshold_pct, nt_fr_finding& out) {
  const RemoteTotals t = remote_totals(r, a);
  if (!t.bytes || !t.remote || t.remote * 100 < uint64_t{threshold_pct} * t.bytes) return 0;
  const RemoteCell& w = t.worst;
  out = make_finding(NT015, a.last_seq, r.mappings[w.mapping].slot, w.file_idx);
  out.mapping = w.mapping;
  out.node = w.reader_node;
  out.aux = w.home_node;
  out.size = t.remote;
  out.expected = t.bytes;
  out.offset = w.remote;
  out.related_slot = static_cast<int32_t>(threshold_pct);
  return 1;
}

}  // namespace numatrace::rules
