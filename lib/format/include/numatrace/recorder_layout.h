/*
 * The flight recorder: the one contract between a traced process and every
 * reader (the trace sinks, `numa-trace postmortem`, the gdb extension).
 *
 * One fixed-layout structure, `numatrace_flight_recorder`, lives in
 * libnumatrace's memory (.bss), so it is in every core dump. Readers find it
 * by that symbol, or by scanning for NT_FR_MAGIC, check magic, version and
 * size, and decode it with this header alone. docs/recorder.md describes it
 * field by field.
 *
 * VERSION RULE: bump NT_FR_VERSION whenever the size, order, meaning or
 * width of any field here changes, or a constant that sizes an array does.
 * Readers refuse versions they do not know. Adding an event type, a flag
 * bit or a finding code does not change the layout and needs no bump.
 *
 * Consistency at any instant (write protocol):
 * - ring: a writer takes position n (a fetch_add on head, by 1, or by a
 *   block of positions a thread then uses in order for its resolves),
 *   stores ring[n % RING].seq = NT_FR_SEQ_WRITING, writes the fields, then
 *   stores seq = n + 1 (release). An entry whose seq is not n + 1 was being
 *   written (NT_FR_SEQ_WRITING), is not written yet or never will be (an
 *   older seq, or 0: a block's unused rest), or was overwritten; readers
 *   skip it. head counts positions handed out, so it may run up to a block
 *   per thread ahead of the events written.
 * - mappings, threads, crash: each record has a `gen` counter, odd while
 *   the record is being changed; a reader that sees an odd gen (or a gen
 *   that changes while it reads, for live readers) treats it as torn.
 * - strings: bytes are written before the offset that names them is
 *   published, so any published offset names a complete NUL-terminated
 *   string.
 * C11 and C++ compatible; all integers little endian (x86_64, aarch64).
 */
#ifndef NUMATRACE_RECORDER_LAYOUT_H
#define NUMATRACE_RECORDER_LAYOUT_H

#include <stdint.h>

#define NT_FR_MAGIC 0x5243454c46544e23ull /* "#NTFLREC" little endian */
#define NT_FR_VERSION 1u
#define NT_FR_SEQ_WRITING (~0ull) /* an event's seq while it is being written */

#define NT_FR_MAX_MAPPINGS 128 /* mapping records (a slot may hold one per node) */
#define NT_FR_MAX_EXTENTS 1024 /* file extents inside unified/replica mappings */
#define NT_FR_MAX_HOLES 256    /* ranges released by unmap_fragment */
#define NT_FR_MAX_FILES 256    /* file idx 0..255 */
#define NT_FR_MAX_THREADS 256  /* threads that recorded at least one event */
#define NT_FR_RING 4096        /* last events kept; a power of two */
#define NT_FR_MAX_FINDINGS 64  /* last findings kept */
#define NT_FR_MAX_PCS 64       /* frames captured at a crash */
#define NT_FR_MAX_NODES 8      /* nodes in placement histograms; more fold into the last */
#define NT_FR_STRINGS 65536    /* bytes of the string pool */
#define NT_FR_NAME 56          /* tensor name bytes kept inline in an event, NUL included */

/* Event types. */
enum nt_event_type {
  NT_EV_NONE = 0,
  NT_EV_MODEL_BEGIN = 1, /* a: n_files; str: model path */
  NT_EV_MODEL_END = 2,
  NT_EV_FILE_OPEN = 3, /* file_idx; a: size; str: path */
  NT_EV_CREATE = 4, /* slot, mapping, node (intended); a: base, b: length, c: requested address, d: kind | flags << 8 */
  NT_EV_EXTENT = 5, /* slot, mapping, file_idx; a: offset in mapping, b: length */
  NT_EV_RESOLVE = 6,    /* slot, file_idx, cpu, node; a: offset in file, b: size, c: address; name */
  NT_EV_UNMAP = 7,      /* slot, mapping; a: address, b: length (after rounding inward to pages) */
  NT_EV_DESTROY = 8,    /* slot, mapping; a: base */
  NT_EV_MLOCK_GROW = 9, /* slot; a: address, b: new locked size */
  NT_EV_PLACEMENT =
      10, /* slot, mapping, file_idx (-1 whole mapping); a: pages sampled, b: absent, c,d: node counts (4 x u16 each) */
  NT_EV_FINDING = 11,      /* code in flags; slot, file_idx; a: offset, b: address, c: related slot; name */
  NT_EV_CRASH = 12,        /* a: signal, b: fault address, c: si_code */
  NT_EV_UNIFIED_TEST = 13, /* a: the loader's answer (0/1) to "is this a unified mapping" */
  NT_EV_DROPPED = 14,      /* sinks only: a: events lost between the drainer and the ring */
  NT_EV_READ = 15,         /* file_idx, cpu, node, page_node (of the destination); a: offset in file, b: length,
                              c: destination address (a loader reading a split into its own memory, no mmap) */
  /* New types may be added at the end without a version bump: readers show
   * a type they do not know by its number and otherwise skip it. */
};

/* Mapping kinds. */
enum nt_mapping_kind {
  NT_KIND_PER_FILE = 1, /* one file, slot = file idx, offset 0 = file offset 0 */
  NT_KIND_UNIFIED = 2,  /* all files back to back, in one slot (0) */
  NT_KIND_REPLICA = 3,  /* a unified copy bound to one node (mirror mode) */
};

/* Mapping flags. */
enum nt_mapping_flags {
  NT_MAP_HUGETLB = 1u << 0,
  NT_MAP_POPULATE = 1u << 1,
  NT_MAP_FIXED = 1u << 2,   /* a fixed address was requested (see requested) */
  NT_MAP_ANON = 1u << 3,    /* anonymous or numa_alloc memory, not a file mapping */
  NT_MAP_DONTDUMP = 1u << 4 /* numa-trace marked it MADV_DONTDUMP */
};

/* Mapping states. */
enum nt_mapping_state {
  NT_STATE_FREE = 0, /* record unused */
  NT_STATE_LIVE = 1,
  NT_STATE_DESTROYED = 2, /* kept for the post-mortem: a stale pointer may still point here */
};

typedef struct nt_fr_event {
  uint64_t seq;   /* n + 1, see the write protocol */
  uint64_t tsc;   /* timestamp counter; ns = (tsc - tsc0) * ns_per_tsc */
  uint16_t type;  /* nt_event_type */
  uint16_t flags; /* per type; findings: the code number (1 = NT001) */
  uint32_t tid;
  int32_t slot;      /* -1 when none */
  int32_t file_idx;  /* -1 when none */
  int16_t cpu;       /* calling thread's CPU, -1 unknown */
  int16_t node;      /* calling thread's node (resolve) or intended node (create), -1 unknown */
  int16_t mapping;   /* index into mappings[], -1 none */
  int16_t page_node; /* node of the first page, filled by the drainer for sinks; -1 unknown */
  uint64_t a, b, c, d;
  char name[NT_FR_NAME]; /* tensor name (resolve, finding) or the start of a path */
} nt_fr_event;           /* 128 bytes */

typedef struct nt_fr_mapping {
  uint32_t gen;
  uint16_t state; /* nt_mapping_state */
  uint16_t kind;  /* nt_mapping_kind */
  int32_t slot;
  int32_t node;                     /* intended node, -1 none */
  uint32_t flags;                   /* nt_mapping_flags */
  uint32_t first_extent, n_extents; /* into extents[] */
  uint64_t base, length, requested;
  uint64_t seq_created, seq_destroyed;
  uint32_t placement_sampled, placement_absent;
  uint32_t placement[NT_FR_MAX_NODES]; /* sampled pages per node */
} nt_fr_mapping;

typedef struct nt_fr_extent {
  int32_t mapping; /* index into mappings[] */
  int32_t file_idx;
  uint64_t offset; /* in the mapping */
  uint64_t length;
  uint32_t placement_sampled, placement_absent;
  uint32_t placement[NT_FR_MAX_NODES];
} nt_fr_extent;

typedef struct nt_fr_hole {
  int32_t mapping;
  uint32_t pad;
  uint64_t offset, length; /* in the mapping */
} nt_fr_hole;

typedef struct nt_fr_file {
  uint32_t path;   /* offset into strings, 0 = none */
  uint32_t opened; /* 1 once file open was recorded */
  uint64_t size;
} nt_fr_file;

typedef struct nt_fr_thread {
  uint32_t gen;
  uint32_t tid;
  /* The resolve in flight: recorded before the loader dereferences the
   * slot, cleared (in_flight = 0) by the next event of this thread. */
  uint32_t in_flight;
  int32_t slot, file_idx;
  int16_t cpu, node;
  uint64_t offset, size, address, seq;
  char name[NT_FR_NAME];
} nt_fr_thread;

typedef struct nt_fr_finding {
  uint64_t seq;      /* seq of the event that raised it, 0 = record unused */
  uint16_t code;     /* 1 = NT001 ... (docs/findings.md) */
  uint16_t severity; /* 0 info, 1 warning, 2 error */
  uint32_t tid;
  int32_t slot, file_idx;
  int32_t related_slot; /* the slot that holds what was looked for (NT001, NT012), -1 none */
  int32_t node;         /* the node that matters (thread's for NT008, intended for NT009), -1 none */
  int32_t mapping;      /* index into mappings[] of the mapping involved, -1 none */
  int32_t aux;          /* per code: NT006 1 double destroy / 0 unknown / 2 unmap; NT007 1 at exit;
                           NT009 the node most pages are on */
  uint64_t offset;      /* offset in the file (resolve findings) */
  uint64_t size;        /* bytes involved */
  uint64_t address;     /* address computed or involved */
  uint64_t expected;    /* what the layout says it should be (per code, docs/findings.md) */
  char name[NT_FR_NAME];
} nt_fr_finding;

typedef struct nt_fr_crash {
  uint32_t gen;
  int32_t signal;
  int32_t si_code;
  uint32_t tid;
  uint64_t fault_address;
  uint64_t seq; /* head of the ring when the signal arrived */
  uint32_t n_pcs, pad;
  uint64_t pcs[NT_FR_MAX_PCS]; /* raw PCs from the signal context, innermost first */
} nt_fr_crash;

typedef struct nt_fr_counters {
  uint64_t events;           /* events recorded: head when last refreshed (drain, model end, exit); head is exact */
  uint64_t dropped_sink;     /* events the drainer lost because the ring lapped it */
  uint64_t dropped_threads;  /* events of threads beyond NT_FR_MAX_THREADS (recorded without in-flight state) */
  uint64_t dropped_strings;  /* paths not kept: string pool full */
  uint64_t dropped_records;  /* extents or holes not kept: table full */
  uint64_t dropped_mappings; /* mappings not kept: table full (absence-based findings are then off) */
  uint64_t findings;         /* findings raised */
  uint64_t sink_errors;      /* sink write failures (reported once each) */
  uint64_t reentered;        /* calls ignored by the recursion guard */
} nt_fr_counters;

typedef struct nt_flight_recorder {
  uint64_t magic;   /* NT_FR_MAGIC */
  uint32_t version; /* NT_FR_VERSION */
  uint32_t size;    /* sizeof(nt_flight_recorder) */
  uint32_t pid;
  uint32_t n_files;  /* from model begin */
  uint64_t tsc0;     /* tsc at start */
  double ns_per_tsc; /* calibrated at start */
  uint64_t start_realtime_ns;
  uint64_t head;       /* next event seq - 1; events are seq 1..head */
  uint32_t model_path; /* offset into strings */
  uint32_t strings_used;
  uint32_t n_mappings, n_extents, n_holes, n_findings_total;
  nt_fr_counters counters;
  nt_fr_crash crash;
  nt_fr_file files[NT_FR_MAX_FILES];
  nt_fr_mapping mappings[NT_FR_MAX_MAPPINGS];
  nt_fr_extent extents[NT_FR_MAX_EXTENTS];
  nt_fr_hole holes[NT_FR_MAX_HOLES];
  nt_fr_thread threads[NT_FR_MAX_THREADS];
  nt_fr_finding findings[NT_FR_MAX_FINDINGS]; /* ring: finding k at [k % MAX] */
  nt_fr_event ring[NT_FR_RING];
  char strings[NT_FR_STRINGS]; /* offset 0 holds "" */
} nt_flight_recorder;

#ifdef __cplusplus
static_assert(sizeof(nt_fr_event) == 128, "nt_fr_event layout");
static_assert(sizeof(nt_fr_finding) == 128, "nt_fr_finding layout");
#else
_Static_assert(sizeof(nt_fr_event) == 128, "nt_fr_event layout");
_Static_assert(sizeof(nt_fr_finding) == 128, "nt_fr_finding layout");
#endif

#endif /* NUMATRACE_RECORDER_LAYOUT_H */
