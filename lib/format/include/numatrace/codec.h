// The names of the flight recorder's enumerations and the codec of its
// packed fields: the one definition every writer and reader uses (the
// recorder's sinks, `numa-trace report` and `postmortem`, and, generated
// from it by numa-trace-gdb-layout, the gdb extension's layout.py).
//
// Header-only and free of libc and allocation, so the in-process recorder
// uses it too.
#pragma once

#include <cstddef>
#include <cstdint>

#include "numatrace/recorder_layout.h"

namespace numatrace::format {

// Event types, by value (nt_event_type), in the spelling of the JSON lines
// and the trace tools. Readers show a type beyond the table by its number.
inline constexpr const char* kEventNames[] = {
    "none",    "model_begin", "model_end", "file_open", "create", "extent",       "resolve", "unmap",
    "destroy", "mlock_grow",  "placement", "finding",   "crash",  "unified_test", "dropped", "read"};
inline constexpr uint16_t kEventTypes = sizeof kEventNames / sizeof kEventNames[0];
static_assert(kEventTypes == NT_EV_READ + 1, "a name for every nt_event_type");

// nullptr for a type this build does not know.
constexpr const char* event_name(uint16_t type) {
  return type < kEventTypes ? kEventNames[type] : nullptr;
}

// Mapping kinds (nt_mapping_kind) and states (nt_mapping_state).
inline constexpr const char* kKindNames[] = {"unknown", "per-file", "unified", "replica"};
static_assert(sizeof kKindNames / sizeof kKindNames[0] == NT_KIND_REPLICA + 1, "a name for every kind");
constexpr const char* kind_name(uint32_t kind) {
  return kind < sizeof kKindNames / sizeof kKindNames[0] ? kKindNames[kind] : "unknown";
}
inline constexpr const char* kStateNames[] = {"free", "live", "destroyed"};
static_assert(sizeof kStateNames / sizeof kStateNames[0] == NT_STATE_DESTROYED + 1, "a name for every state");
constexpr const char* state_name(uint32_t state) {
  return state < sizeof kStateNames / sizeof kStateNames[0] ? kStateNames[state] : "unknown";
}

// A placement event's histogram: node k's page count in 16 bits of c (k <
// 4) or d (k >= 4), saturated at 0xffff.
constexpr uint32_t placement_pages(const nt_fr_event& e, int node) {
  return static_cast<uint32_t>(((node < 4 ? e.c : e.d) >> (16 * (node % 4))) & 0xffff);
}
constexpr void placement_encode(nt_fr_event& e, const uint32_t (&pages)[NT_FR_MAX_NODES]) {
  e.c = e.d = 0;
  for (int k = 0; k < NT_FR_MAX_NODES; ++k) {
    const uint64_t n = pages[k] > 0xffff ? 0xffff : pages[k];
    (k < 4 ? e.c : e.d) |= n << (16 * (k % 4));
  }
}
static_assert(NT_FR_MAX_NODES <= 8, "the placement word holds 8 nodes");

// A create event's d: the kind in the low byte, the flags above it.
constexpr uint64_t create_word(uint32_t kind, uint32_t flags) {
  return kind | static_cast<uint64_t>(flags) << 8;
}
constexpr uint32_t create_kind(const nt_fr_event& e) {
  return static_cast<uint32_t>(e.d & 0xff);
}
constexpr uint32_t create_flags(const nt_fr_event& e) {
  return static_cast<uint32_t>(e.d >> 8);
}

// Pins of what readers without this header rely on (the gdb extension, a
// core scanned by magic): a move of these fields is a version bump.
static_assert(offsetof(nt_flight_recorder, magic) == 0 && offsetof(nt_flight_recorder, version) == 8 &&
                  offsetof(nt_flight_recorder, size) == 12,
              "the recorder's header");
static_assert(offsetof(nt_fr_event, seq) == 0 && offsetof(nt_fr_event, tsc) == 8 && offsetof(nt_fr_event, type) == 16,
              "the event's header");
static_assert((NT_FR_RING & (NT_FR_RING - 1)) == 0, "the ring is a power of two");

}  // namespace numatrace::format
