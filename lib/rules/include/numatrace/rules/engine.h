// THE rule engine: the one place where events become findings. It runs in
// the traced process (lib/recorder, on every hook call) and offline (replay
// of a trace, post-mortem of a core, gdb), on the same table layout, the
// flight recorder's (numatrace/recorder_layout.h).
//
// In-process rules apply: header-only, no allocation, no exceptions, no
// locks, and of libc only strnlen and memcpy (async-signal-safe, no state). Transitions (apply_*) must be serialized by
// the caller; checks (check_*) only read.
#pragma once

#include <cstdint>
#include <cstring>

#include "numatrace/codec.h"
#include "numatrace/recorder_layout.h"
#include "numatrace/rules/buf.h"
#include "numatrace/rules/codes.h"

namespace numatrace::rules {

using Recorder = ::nt_flight_recorder;

struct ExtentArg {
  uint32_t file_idx;
  uint64_t offset;  // in the mapping
  uint64_t length;
};

struct CreateArgs {
  int32_t slot = 0;
  uint16_t kind = NT_KIND_PER_FILE;
  uint64_t base = 0, length = 0, requested = 0;
  int32_t node = -1;
  uint32_t flags = 0;
  const ExtentArg* extents = nullptr;
  uint32_t n_extents = 0;
};

using format::kind_name;

// ------------------------------------------------------------------ lookups

// state is read by resolves on any thread while a destroy may change it.
inline uint16_t state_of(const nt_fr_mapping& m) {
  return __atomic_load_n(&m.state, __ATOMIC_ACQUIRE);
}
inline void set_state(nt_fr_mapping& m, uint16_t s) {
  __atomic_store_n(&m.state, s, __ATOMIC_RELEASE);
}
inline bool live(const nt_fr_mapping& m) {
  return state_of(m) == NT_STATE_LIVE;
}
inline bool holds_files(const nt_fr_mapping& m) {
  return m.kind == NT_KIND_UNIFIED || m.kind == NT_KIND_REPLICA;
}
inline bool contains(const nt_fr_mapping& m, uint64_t addr) {
  return addr >= m.base && addr - m.base < m.length;
}

// Records are published by storing the count (release) after the record.
inline uint32_t mapping_count(const Recorder& r) {
  uint32_t n = __atomic_load_n(&r.n_mappings, __ATOMIC_ACQUIRE);
  return n < NT_FR_MAX_MAPPINGS ? n : NT_FR_MAX_MAPPINGS;
}

// When the mapping table is full, later mappings are not recorded, so "no
// mapping here" proves nothing: findings that rest on an absence are not
// raised (counters.dropped_records says why).
inline bool tables_complete(const Recorder& r) {
  return __atomic_load_n(&r.counters.dropped_mappings, __ATOMIC_RELAXED) == 0;
}

// The extent of file_idx inside mapping mi, or null.
inline const nt_fr_extent* find_extent(const Recorder& r, int mi, int32_t file_idx) {
  const nt_fr_mapping& m = r.mappings[mi];
  // Bounded by the table, not by n_extents alone: a recorder read from a
  // damaged core may claim 2^32 extents.
  for (uint64_t e = m.first_extent, end = e + m.n_extents; e < end && e < NT_FR_MAX_EXTENTS; ++e)
    if (r.extents[e].file_idx == file_idx) return &r.extents[e];
  return nullptr;
}

// The live mapping of `slot` to resolve through: the newest one containing
// `address`, else the newest on `node`, else the newest. -1 when empty.
inline int find_live_in_slot(const Recorder& r, int32_t slot, uint64_t address, int32_t node) {
  int by_addr = -1, by_node = -1, any = -1;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (!live(m) || m.slot != slot) continue;
    any = static_cast<int>(i);
    if (address && contains(m, address)) by_addr = static_cast<int>(i);
    if (node >= 0 && m.node == node) by_node = static_cast<int>(i);
  }
  return by_addr >= 0 ? by_addr : by_node >= 0 ? by_node : any;
}

// The mapping a resolve event went through: the one it names (the recorder
// writes it), else, for events of an older numa-trace, found again.
inline int resolved_through(const Recorder& r, const nt_fr_event& ev) {
  if (ev.mapping >= 0 && static_cast<uint32_t>(ev.mapping) < mapping_count(r)) return ev.mapping;
  return find_live_in_slot(r, ev.slot, ev.c, ev.node);
}

// The node holding most pages of a placement histogram (-1 when none is
// present); `present` receives the pages present.
inline int home_node(const uint32_t (&hist)[NT_FR_MAX_NODES], uint64_t& present) {
  uint64_t best = 0;
  int home = -1;
  present = 0;
  for (int n = 0; n < NT_FR_MAX_NODES; ++n) {
    present += hist[n];
    if (hist[n] > best) best = hist[n], home = n;
  }
  return home;
}

// A live unified or replica mapping holding file_idx (preferring `node`).
inline int find_holder(const Recorder& r, int32_t file_idx, int32_t node) {
  int found = -1;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (!live(m) || !holds_files(m) || !find_extent(r, static_cast<int>(i), file_idx)) continue;
    if (found < 0 || (node >= 0 && m.node == node)) found = static_cast<int>(i);
  }
  return found;
}

// The newest mapping of `slot` (any state) whose base is `base`; -1 none.
inline int find_by_base(const Recorder& r, int32_t slot, uint64_t base, bool live_only) {
  int found = -1;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (state_of(m) == NT_STATE_FREE || m.base != base || (slot >= 0 && m.slot != slot)) continue;
    if (live_only && !live(m)) continue;
    found = static_cast<int>(i);
  }
  return found;
}

inline bool in_hole(const Recorder& r, int mi, uint64_t offset, uint64_t size) {
  uint32_t n = __atomic_load_n(&r.n_holes, __ATOMIC_ACQUIRE);
  n = n < NT_FR_MAX_HOLES ? n : NT_FR_MAX_HOLES;
  for (uint32_t h = 0; h < n; ++h) {
    const nt_fr_hole& hole = r.holes[h];
    if (hole.mapping == mi && offset < hole.offset + hole.length && hole.offset < offset + (size ? size : 1))
      return true;
  }
  return false;
}

inline void begin_write(uint32_t& gen) {
  __atomic_store_n(&gen, gen + 1, __ATOMIC_RELEASE);
}
inline void end_write(uint32_t& gen) {
  __atomic_store_n(&gen, gen + 1, __ATOMIC_RELEASE);
}

inline nt_fr_finding make_finding(uint16_t code, uint64_t seq, int32_t slot, int32_t file_idx) {
  nt_fr_finding f;
  std::memset(&f, 0, sizeof f);
  f.seq = seq;
  f.code = code;
  f.severity = code_info(code).severity;
  f.slot = slot;
  f.file_idx = file_idx;
  f.related_slot = -1;
  f.node = -1;
  f.mapping = -1;
  return f;
}

inline void copy_name(char (&dst)[NT_FR_NAME], const char* src) {
  // strnlen + memcpy: both vectorized in libc, several times faster than a
  // byte loop on the resolve path; both async-signal-safe.
  size_t n = src ? strnlen(src, NT_FR_NAME - 1) : 0;
  std::memcpy(dst, src ? src : "", n);
  dst[n] = 0;
}

// -------------------------------------------------------------- transitions
// Each returns the number of findings written to `out` (0 or 1) and sets
// `index` to the mapping record involved (-1 none).

// Records a mapping. Findings: NT007 (slot reused while live), NT012 (fixed
// address not honoured, or colliding with a live mapping).
inline int apply_create(Recorder& r, const CreateArgs& a, uint64_t seq, nt_fr_finding& out, int& index) {
  int found = 0;
  for (uint32_t i = 0, n = mapping_count(r); i < n && !found; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (live(m) && m.slot == a.slot && (a.kind != NT_KIND_REPLICA || m.node == a.node)) {
      out = make_finding(NT007, seq, a.slot, -1);
      out.mapping = static_cast<int32_t>(i);
      out.address = m.base;
      out.size = m.length;
      out.expected = a.base;
      found = 1;
    }
  }
  if (!found && (a.flags & NT_MAP_FIXED) && a.requested) {
    if (a.base != a.requested) {
      out = make_finding(NT012, seq, a.slot, -1);
      out.address = a.base;
      out.expected = a.requested;
      out.size = a.length;
      found = 1;
    }
    for (uint32_t i = 0, n = mapping_count(r); i < n && !found; ++i) {
      const nt_fr_mapping& m = r.mappings[i];
      if (live(m) && m.base < a.base + a.length && a.base < m.base + m.length) {
        out = make_finding(NT012, seq, a.slot, -1);
        out.related_slot = m.slot;
        out.mapping = static_cast<int32_t>(i);
        out.address = m.base;
        out.size = m.length;
        out.expected = a.requested;
        found = 1;
      }
    }
  }
  uint32_t mi = r.n_mappings;
  if (mi >= NT_FR_MAX_MAPPINGS) {
    r.counters.dropped_mappings++;
    index = -1;
    return found;
  }
  nt_fr_mapping& m = r.mappings[mi];
  begin_write(m.gen);
  m.kind = a.kind;
  m.slot = a.slot;
  m.node = a.node;
  m.flags = a.flags;
  m.base = a.base;
  m.length = a.length;
  m.requested = a.requested;
  m.seq_created = seq;
  m.seq_destroyed = 0;
  m.first_extent = r.n_extents;
  m.n_extents = 0;
  m.placement_sampled = m.placement_absent = 0;
  for (auto& p : m.placement) p = 0;
  for (uint32_t k = 0; k < a.n_extents; ++k) {
    if (r.n_extents >= NT_FR_MAX_EXTENTS) {
      r.counters.dropped_records++;
      break;
    }
    nt_fr_extent& e = r.extents[r.n_extents];
    std::memset(&e, 0, sizeof e);
    e.mapping = static_cast<int32_t>(mi);
    e.file_idx = static_cast<int32_t>(a.extents[k].file_idx);
    e.offset = a.extents[k].offset;
    e.length = a.extents[k].length;
    __atomic_store_n(&r.n_extents, r.n_extents + 1, __ATOMIC_RELEASE);
    m.n_extents++;
  }
  set_state(m, NT_STATE_LIVE);
  end_write(m.gen);
  // Published last: a concurrent reader sees either no record or a whole one.
  __atomic_store_n(&r.n_mappings, mi + 1, __ATOMIC_RELEASE);
  index = static_cast<int>(mi);
  return found;
}

// unmap_fragment(addr, length) of `slot` (-1: any). Findings: NT005 (inside
// a unified or replica mapping), NT006 (no live mapping there).
inline int apply_unmap(Recorder& r, int32_t slot, uint64_t addr, uint64_t length, uint64_t seq, nt_fr_finding& out,
                       int& index) {
  index = -1;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i)
    if (live(r.mappings[i]) && contains(r.mappings[i], addr) && (slot < 0 || r.mappings[i].slot == slot))
      index = static_cast<int>(i);
  if (index < 0) {
    if (!tables_complete(r)) return 0;
    out = make_finding(NT006, seq, slot, -1);
    out.address = addr;
    out.size = length;
    out.aux = 2;
    return 1;
  }
  const nt_fr_mapping& m = r.mappings[index];
  if (r.n_holes < NT_FR_MAX_HOLES) {
    nt_fr_hole& h = r.holes[r.n_holes];
    h.mapping = index;
    h.offset = addr - m.base;
    h.length = length;
    __atomic_store_n(&r.n_holes, r.n_holes + 1, __ATOMIC_RELEASE);
  } else {
    r.counters.dropped_records++;
  }
  if (holds_files(m)) {
    out = make_finding(NT005, seq, m.slot, -1);
    out.mapping = index;
    out.address = addr;
    out.size = length;
    out.expected = m.base;
    return 1;
  }
  return 0;
}

// Destroy of the mapping of `slot` (-1: any) at `base`. Finding: NT006
// (already destroyed, or never created).
inline int apply_destroy(Recorder& r, int32_t slot, uint64_t base, uint64_t seq, nt_fr_finding& out, int& index) {
  index = find_by_base(r, slot, base, true);
  if (index < 0) {
    if (!tables_complete(r)) return 0;
    int old = find_by_base(r, slot, base, false);
    out = make_finding(NT006, seq, slot, -1);
    out.address = base;
    out.mapping = old;
    out.aux = old >= 0 ? 1 : 0;
    return 1;
  }
  nt_fr_mapping& m = r.mappings[index];
  begin_write(m.gen);
  set_state(m, NT_STATE_DESTROYED);
  m.seq_destroyed = seq;
  end_write(m.gen);
  return 0;
}

// ------------------------------------------------------------------- checks

// A resolve event: slot, file_idx, a = offset in file, b = size,
// c = address computed by the loader (0 when the slot was empty), node =
// calling thread's node. Findings: NT001, NT002, NT003, NT004, NT008.
// `through` (optional) receives the index of the mapping resolved through,
// -1 when the slot is empty.
inline int check_resolve(const Recorder& r, const nt_fr_event& ev, nt_fr_finding& out, int* through = nullptr) {
  const int32_t slot = ev.slot, file = ev.file_idx;
  const uint64_t offset = ev.a, size = ev.b, address = ev.c;
  int mi = find_live_in_slot(r, slot, address, ev.node);
  if (through) *through = mi;
  auto start = [&](uint16_t code, int mapping) {
    out = make_finding(code, ev.seq, slot, file);
    out.offset = offset;
    out.size = size;
    out.address = address;
    out.node = ev.node;
    out.tid = ev.tid;
    out.mapping = mapping;
    std::memcpy(out.name, ev.name, NT_FR_NAME);
    out.name[NT_FR_NAME - 1] = 0;
  };
  if (mi < 0) {
    if (!tables_complete(r)) return 0;
    // Empty slot. A stale pointer into a destroyed mapping is NT004; else
    // NT001, naming the unified mapping that holds the file if there is one.
    if (address) {
      for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) {
        const nt_fr_mapping& m = r.mappings[i];
        if (state_of(m) == NT_STATE_DESTROYED && contains(m, address)) {
          start(NT004, static_cast<int>(i));
          out.expected = m.base;
          return 1;
        }
      }
    }
    int holder = find_holder(r, file, ev.node);
    start(NT001, holder);
    if (holder >= 0) {
      const nt_fr_mapping& h = r.mappings[holder];
      out.related_slot = h.slot;
      out.expected = h.base + find_extent(r, holder, file)->offset + offset;
    }
    return 1;
  }
  const nt_fr_mapping& m = r.mappings[mi];
  uint64_t expected, limit;
  if (holds_files(m)) {
    // The interposer sees unified regions without their file layout: it
    // resolves with file -1, and nothing can be checked against extents.
    if (file < 0 && m.n_extents == 0) return 0;
    const nt_fr_extent* e = find_extent(r, mi, file);
    if (!e) {
      start(NT003, mi);
      out.expected = 0;  // no extent for this file at all
      return 1;
    }
    expected = m.base + e->offset + offset;
    limit = e->length;
  } else {
    expected = m.base + offset;
    limit = m.length;
    if (file >= 0 && file < NT_FR_MAX_FILES && r.files[file].opened && r.files[file].size < limit)
      limit = r.files[file].size;
  }
  if (offset > limit || size > limit - offset) {
    start(NT003, mi);
    out.expected = limit;
    return 1;
  }
  if (address != expected) {
    start(NT002, mi);
    out.expected = expected;
    return 1;
  }
  if (in_hole(r, mi, address - m.base, size)) {
    start(NT004, mi);
    out.expected = m.base;
    out.aux = 1;  // released by unmap_fragment, mapping still live
    return 1;
  }
  if (m.kind == NT_KIND_REPLICA && m.node >= 0 && ev.node >= 0 && m.node != ev.node) {
    start(NT008, mi);
    out.expected = static_cast<uint64_t>(m.node);
    return 1;
  }
  return 0;
}

// mlock slot `slot` grows to cover [address, address + size). The mlock
// slots parallel the mapping slots, so an empty mapping slot means a null
// mlock slot. Finding: NT014.
inline int check_mlock_grow(const Recorder& r, int32_t slot, uint64_t address, uint64_t size, uint64_t seq,
                            nt_fr_finding& out) {
  if (find_live_in_slot(r, slot, address, -1) >= 0) return 0;
  int32_t holder_slot = -1;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i)
    if (live(r.mappings[i]) && holds_files(r.mappings[i])) holder_slot = r.mappings[i].slot;
  out = make_finding(NT014, seq, slot, -1);
  out.address = address;
  out.size = size;
  out.related_slot = holder_slot;
  return 1;
}

// The loader answered "is unified" with `answer`. Finding: NT010 when it
// disagrees with what was created (a live unified or replica mapping).
inline int check_unified_test(const Recorder& r, bool answer, uint64_t seq, nt_fr_finding& out) {
  bool actual = false;
  for (uint32_t i = 0, n = mapping_count(r); i < n; ++i) actual |= live(r.mappings[i]) && holds_files(r.mappings[i]);
  if (actual == answer) return 0;
  out = make_finding(NT010, seq, 0, -1);
  out.aux = answer ? 1 : 0;
  out.expected = actual ? 1 : 0;
  return 1;
}

// After a placement sample of mapping mi. Finding: NT009 when fewer than
// half of the present sampled pages are on the intended node.
inline int check_placement(const Recorder& r, int mi, uint64_t seq, nt_fr_finding& out) {
  const nt_fr_mapping& m = r.mappings[mi];
  if (m.node < 0 || m.node >= NT_FR_MAX_NODES) return 0;
  uint64_t present = 0;
  const int best_node = home_node(m.placement, present);
  if (present == 0 || 2 * uint64_t{m.placement[m.node]} >= present) return 0;
  out = make_finding(NT009, seq, m.slot, -1);
  out.mapping = mi;
  out.node = m.node;
  out.aux = best_node;
  out.address = m.base;
  out.size = m.placement[m.node];
  out.expected = present;
  return 1;
}

// Mapping data compared with the file at `offset` of file_idx (found by
// the caller): Finding NT011.
inline nt_fr_finding data_mismatch(int mi, const nt_fr_mapping& m, int32_t file_idx, uint64_t offset, uint64_t address,
                                   uint64_t seq) {
  nt_fr_finding f = make_finding(NT011, seq, m.slot, file_idx);
  f.mapping = mi;
  f.offset = offset;
  f.address = address;
  f.node = m.node;
  return f;
}

// At exit, for a mapping still live. Finding: NT007.
inline int check_exit(const Recorder& r, int mi, uint64_t seq, nt_fr_finding& out) {
  const nt_fr_mapping& m = r.mappings[mi];
  if (!live(m)) return 0;
  out = make_finding(NT007, seq, m.slot, -1);
  out.mapping = mi;
  out.address = m.base;
  out.size = m.length;
  out.aux = 1;
  return 1;
}

// --------------------------------------------------------------- wording

// "file 1 of 6" or "file 1".
inline void file_of(const Recorder& r, Buf& b, int32_t file) {
  b.s("file ").i(file);
  if (r.n_files) b.s(" of ").u(r.n_files);
}

// The files a unified/replica mapping covers, as "files A-B".
inline void covered(const Recorder& r, Buf& b, int mi) {
  const nt_fr_mapping& m = r.mappings[mi];
  int32_t lo = INT32_MAX, hi = -1;
  for (uint32_t k = 0; k < m.n_extents && m.first_extent + k < NT_FR_MAX_EXTENTS; ++k) {
    int32_t f = r.extents[m.first_extent + k].file_idx;
    lo = f < lo ? f : lo;
    hi = f > hi ? f : hi;
  }
  if (hi < 0)
    b.s("no files");
  else if (lo == hi)
    b.s("file ").i(lo);
  else
    b.s("files ").i(lo).c('-').i(hi);
}

inline void mapping_desc(const Recorder& r, Buf& b, int mi) {
  if (mi < 0 || mi >= NT_FR_MAX_MAPPINGS) {
    b.s("an unknown mapping");
    return;
  }
  const nt_fr_mapping& m = r.mappings[mi];
  b.s("the ").s(kind_name(m.kind)).s(" mapping in slot ").i(m.slot);
  if (m.kind == NT_KIND_REPLICA) b.s(" for node ").i(m.node);
  b.s(" (base ").x(m.base).s(", ").x(m.length).s(" bytes)");
}

// One line: "NT001 <what happened>: <what to do>". Never allocates.
inline size_t format_finding(const Recorder& r, const nt_fr_finding& f, char* out, size_t cap) {
  Buf b(out, cap);
  b.s(code_info(f.code).id).c(' ');
  auto resolve_of = [&] {
    b.s("resolve of '").sn(f.name, NT_FR_NAME).s("' (");
    file_of(r, b, f.file_idx);
    b.s(", offset ").x(f.offset).s(") through slot ").i(f.slot);
  };
  switch (f.code) {
    case NT001:
      resolve_of();
      b.s(", which is empty");
      if (f.mapping >= 0 && f.mapping < NT_FR_MAX_MAPPINGS) {
        const nt_fr_extent* e = find_extent(r, f.mapping, f.file_idx);
        b.s("; the ").s(kind_name(r.mappings[f.mapping].kind)).s(" mapping covering ");
        covered(r, b, f.mapping);
        b.s(" is in slot ").i(f.related_slot).s(" (file ").i(f.file_idx).s(" at +").x(e ? e->offset : 0);
        b.s("): resolve through slot ").i(f.related_slot);
      } else {
        b.s(" and no mapping holds file ").i(f.file_idx).s(": create its mapping before resolving its tensors");
      }
      break;
    case NT002:
      resolve_of();
      b.s(" computed ").x(f.address).s(" but the recorded layout puts it at ").x(f.expected);
      b.s(f.address > f.expected ? " (+" : " (-")
          .x(f.address > f.expected ? f.address - f.expected : f.expected - f.address);
      b.s("): the bytes read belong elsewhere; compute the address from the file's extent in the mapping");
      break;
    case NT003:
      resolve_of();
      b.s(" with ").u(f.size).s(" bytes");
      if (f.expected == 0)
        b.s(" finds no extent for the file in ");
      else
        b.s(" reaches past the ").x(f.expected).s(" bytes of the file's extent in ");
      mapping_desc(r, b, f.mapping);
      b.s(": check the tensor's offset and size against its file");
      break;
    case NT004:
      resolve_of();
      b.s(" lands at ").x(f.address);
      if (f.aux == 1)
        b.s(" in a range released by unmap_fragment from ");
      else
        b.s(" inside the destroyed ");
      mapping_desc(r, b, f.mapping);
      b.s(": keep the range mapped until every tensor in it is read");
      break;
    case NT005:
      b.s("unmap_fragment of ").x(f.size).s(" bytes at ").x(f.address).s(" inside ");
      mapping_desc(r, b, f.mapping);
      b.s(": a partial munmap of unified or mirror memory breaks its later destroy; skip unmap_fragment for it");
      break;
    case NT006:
      if (f.aux == 2) {
        b.s("unmap_fragment of ").x(f.size).s(" bytes at ").x(f.address).s(" in slot ").i(f.slot);
        b.s(" hits no live mapping: unmap only ranges of a live mapping");
      } else {
        b.s("destroy of slot ").i(f.slot).s(" at ").x(f.address);
        b.s(f.aux == 1 ? ", which was already destroyed" : ", which was never created");
        b.s(": free each mapping exactly once");
      }
      break;
    case NT007:
      if (f.aux == 1) {
        mapping_desc(r, b, f.mapping);
        b.s(" is still alive at exit: destroy it when the model is freed");
      } else {
        b.s("slot ").i(f.slot).s(" was created again at ").x(f.expected).s(" while ");
        mapping_desc(r, b, f.mapping);
        b.s(" was alive: destroy the old mapping first (it leaks)");
      }
      break;
    case NT008:
      resolve_of();
      b.s(" by thread ").u(f.tid).s(" on node ").i(f.node).s(" reads ");
      mapping_desc(r, b, f.mapping);
      b.s(": read the replica of the thread's own node");
      break;
    case NT009:
      mapping_desc(r, b, f.mapping);
      b.s(" has ").u(f.size).s(" of ").u(f.expected).s(" sampled pages on node ").i(f.node);
      b.s(", most on node ")
          .i(f.aux)
          .s(": bind the replica to its node (mbind or numa_alloc_onnode) before filling it");
      break;
    case NT010:
      b.s("the loader's unified test answered ").s(f.aux ? "unified" : "not unified").s(" but numa-trace recorded ");
      b.s(f.expected ? "a unified mapping" : "per-file mappings");
      b.s(": decide from what was created, not from which slots are null");
      break;
    case NT011:
      mapping_desc(r, b, f.mapping);
      b.s(" differs from ");
      file_of(r, b, f.file_idx);
      b.s(" at file offset ").x(f.offset).s(" (address ").x(f.address);
      b.s("): the copy is stale or wrong; remove stale hugepage files and copy the file again");
      break;
    case NT012:
      if (f.related_slot >= 0) {
        b.s("fixed-address mapping for slot ").i(f.slot).s(" at ").x(f.expected).s(" collides with ");
        mapping_desc(r, b, f.mapping);
        b.s(": choose a free range");
      } else {
        b.s("fixed address ").x(f.expected).s(" requested for slot ").i(f.slot).s(" was not honoured (got ");
        b.x(f.address).s("): check the result of mmap and fail, or drop the fixed address");
      }
      break;
    case NT013:  // raised offline (numa-trace report) from the trace's crash record
      b.s("the traced process crashed: signal ").i(f.aux).s(" at fault address ").x(f.address).s(" in thread ");
      b.i(static_cast<int64_t>(f.tid))
          .s(", and no recorded finding explains it; numa-trace postmortem decodes its core");
      break;
    case NT014:
      b.s("mlock slot ").i(f.slot).s(" grows to cover ").x(f.size).s(" bytes at ").x(f.address);
      b.s(" but mapping slot ").i(f.slot).s(" is empty, so its mlock slot is null");
      if (f.related_slot >= 0) b.s("; lock through slot ").i(f.related_slot).s(", which holds the unified mapping");
      break;
    case NT015: {
      b.u(f.expected ? f.size * 100 / f.expected : 0).s("% of the ").bytes(f.expected);
      b.s(" resolved with known placement lie on another node than the resolving thread's (threshold ");
      b.i(f.related_slot).s("%); most by threads on node ").i(f.node).s(" reading ");
      file_of(r, b, f.file_idx);
      b.s(" (").bytes(f.offset).s(" remote) in ");
      mapping_desc(r, b, f.mapping);
      b.s(", whose pages are mostly on node ").i(f.aux).s(": ");
      const uint16_t kind = f.mapping >= 0 && f.mapping < NT_FR_MAX_MAPPINGS ? r.mappings[f.mapping].kind : 0;
      if (kind == NT_KIND_REPLICA) {
        b.s("each thread should read the replica of its own node, bound to that node before it is filled");
      } else if (kind == NT_KIND_UNIFIED) {
        b.s("use mirror mode (a replica on every node), or run the threads on node ").i(f.aux);
        b.s(" (numactl --cpunodebind=").i(f.aux).s(" --membind=").i(f.aux);
        b.s("), or interleave the region (numactl --interleave=all)");
      } else {
        b.s("run the threads on node ").i(f.aux).s(" (numactl --cpunodebind=").i(f.aux).s(" --membind=").i(f.aux);
        b.s(", with llama.cpp's --numa numactl), or drop the files from the page cache and load them with ");
        b.s("numactl --interleave=all, or use mirror mode (a replica on every node)");
      }
      break;
    }
    default: b.s(code_info(f.code).title); break;
  }
  return b.size();
}

}  // namespace numatrace::rules
