// The sinks' shared internals (sinks.cpp): the open sinks and their
// buffers, and what every sink's writer uses. Files:
//   sinks.cpp          the drainer: the ring to the sinks, start, stop,
//                      fork and crash; the binary trace's records
//   sink_jsonl.cpp     JSON lines
//   sink_text.cpp      stderr lines and the progress line
//   sink_journal.cpp   the systemd journal (sd_journal_sendv, dlopened)
//   settings.cpp       NUMA_TRACE's syntax
// All of it runs inside the traced program: the in-process rules
// (recorder.cpp) apply, and every writer is async-signal-safe.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "internal.h"

namespace numatrace::rec::sink {

struct Sink {
  int fd = -1;
  bool owned = false;   // we opened it (stderr is not ours to close)
  bool failed = false;  // off after a write error, reported once
  size_t used = 0;
  char buf[1 << 16] = {};  // (zero, in .bss: constant-initialized for constinit)
};

// constinit: ready before any constructor (ours included) runs.
extern Sink g_sinks[kMaxSinks];

// "EPIPE", or the number.
const char* errno_name(int e);
// Said once on stderr when a sink fails, and counted.
void report_sink(const SinkSpec& spec, const char* what, int err);
bool write_all(int fd, const char* p, size_t n);
void flush(int i);
void put(int i, const void* p, size_t n);
void put_record(int i, uint32_t type, const void* a, size_t na, const void* b = nullptr, size_t nb = 0);
const char* type_name(uint16_t t);
const char* path_of(uint64_t string_offset);
uint64_t ns_of(uint64_t tsc);
const nt_fr_finding* finding_of(const nt_fr_event& e);

void emit_jsonl(int i, const nt_fr_event& e);
void emit_text(int i, const nt_fr_event& e);
// The progress line of the text sink (a terminal only).
void track_progress(const nt_fr_event& e, bool from_signal);
void draw_progress(bool final);
void reset_progress();
inline constexpr const char* kJournalSocket = "/run/systemd/journal/socket";
bool journal_open();
void emit_journal(int sink, const nt_fr_event& ev);
void journal_resolve_summary(int sink);

}  // namespace numatrace::rec::sink
