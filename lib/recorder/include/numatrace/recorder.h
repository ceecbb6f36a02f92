/*
 * libnumatrace's own API, for programs that link it directly and for tests.
 * A loader only needs numatrace/hooks.h. The flight recorder's layout is in
 * numatrace/recorder_layout.h.
 */
#ifndef NUMATRACE_RECORDER_H
#define NUMATRACE_RECORDER_H

#include "numatrace/hooks.h"
#include "numatrace/recorder_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The flight recorder; readers find it in cores by this symbol. */
extern nt_flight_recorder numatrace_flight_recorder;

/*
 * (Re)configure from a spec in the syntax of the NUMA_TRACE environment
 * variable (docs/recorder.md), e.g. "file:/tmp/t.nttrace,stderr,strict".
 * Returns 0, or -1 when the spec has an unknown word (nothing changes).
 */
int numatrace_configure(const char* spec);

/* Drain every recorded event to the sinks now (blocks until written). */
void numatrace_flush(void);

/*
 * For the preload interposer: a model begin that is not the loader's own
 * (numatrace_model_begin is the hooks', and marks the program as patched),
 * and whether a patched loader's NUMATRACE_MODEL_BEGIN was seen.
 */
void numatrace_interposed_model_begin(const char* path, uint32_t n_files);
int numatrace_hooks_active(void);

/*
 * Where events' CPU and node come from in this process: "rdpid", "rdtscp"
 * (TSC_AUX), "rseq" (glibc's rseq area, node from sysfs) or "getcpu".
 */
const char* numatrace_cpu_source(void);

#ifdef __cplusplus
}
#endif

#endif /* NUMATRACE_RECORDER_H */
