/*
 * The binary trace file written by the `file:PATH` sink (docs/trace-format.md).
 *
 * A 64-byte header, then records: a u32 type, a u32 payload length, the
 * payload, padded to 8 bytes. Readers skip record types they do not know
 * (by length), and refuse a header version they do not know.
 *
 * VERSION RULE: bump NT_TRACE_VERSION when the header, the framing or the
 * payload of an existing record type changes (the event payload is
 * nt_fr_event, so a change of NT_FR_VERSION that touches it bumps this too).
 * New record types need no bump, nor does a header field taken from
 * padding whose zero means what every earlier trace meant (`clock`).
 */
#ifndef NUMATRACE_TRACE_FORMAT_H
#define NUMATRACE_TRACE_FORMAT_H

#include <stdint.h>

#include "numatrace/recorder_layout.h"

#define NT_TRACE_MAGIC "NTTRACE" /* 8 bytes with the NUL */
#define NT_TRACE_VERSION 1u

typedef struct nt_trace_header {
  char magic[8];             /* NT_TRACE_MAGIC */
  uint32_t version;          /* NT_TRACE_VERSION */
  uint32_t header_size;      /* 64 */
  uint32_t event_size;       /* sizeof(nt_fr_event) */
  uint32_t recorder_version; /* NT_FR_VERSION of the writer */
  uint32_t pid;
  uint32_t clock;             /* NT_TRACE_CLOCK_*: what an event's tsc counts (0 in traces of before it was written) */
  uint64_t tsc0;              /* timestamps are (tsc - tsc0) * ns_per_tsc ns after start */
  uint64_t start_realtime_ns; /* CLOCK_REALTIME at start */
  uint8_t reserved[16];
} nt_trace_header;

/* nt_trace_header.clock. A trace cut short has no summary to give
 * ns_per_tsc: with NT_TRACE_CLOCK_NS its events' times are still exact. */
enum nt_trace_clock {
  NT_TRACE_CLOCK_TSC = 0, /* a counter whose rate is the summary's ns_per_tsc (the recorder's clock=tsc) */
  NT_TRACE_CLOCK_NS = 1,  /* nanoseconds (the kernel's coarse monotonic clock): ns_per_tsc is 1 */
};

enum nt_trace_record {
  NT_REC_EVENT = 1,   /* nt_fr_event */
  NT_REC_STRING = 2,  /* u64 seq of the event it belongs to, then the bytes (a path), no NUL */
  NT_REC_CRASH = 3,   /* nt_fr_crash */
  NT_REC_SUMMARY = 4, /* nt_trace_summary; the last record of a complete trace */
  NT_REC_FINDING = 5, /* nt_fr_finding, then the finding's one-line text, no NUL */
  NT_REC_DROPPED = 6, /* u64 seq of the first event lost, u64 count: the ring lapped the sink */
};

typedef struct nt_trace_record_header {
  uint32_t type;
  uint32_t length; /* payload bytes, without the padding */
} nt_trace_record_header;

typedef struct nt_trace_summary {
  double ns_per_tsc;
  uint64_t head; /* events recorded in all */
  nt_fr_counters counters;
} nt_trace_summary;

#ifdef __cplusplus
static_assert(sizeof(nt_trace_header) == 64, "nt_trace_header layout");
#else
_Static_assert(sizeof(nt_trace_header) == 64, "nt_trace_header layout");
#endif

#endif /* NUMATRACE_TRACE_FORMAT_H */
