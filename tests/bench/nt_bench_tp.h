// The LTTng-UST peer of a numa-trace resolve event: a tracepoint with the
// same six fields (slot, file idx, offset, size, address, tensor name), for
// bench_lttng. A tracepoint provider header, read several times by
// lttng-ust's macros (hence the guard shape).
#undef LTTNG_UST_TRACEPOINT_PROVIDER
#define LTTNG_UST_TRACEPOINT_PROVIDER numatrace_bench

#undef LTTNG_UST_TRACEPOINT_INCLUDE
#define LTTNG_UST_TRACEPOINT_INCLUDE "./nt_bench_tp.h"

#if !defined(NT_BENCH_TP_H) || defined(LTTNG_UST_TRACEPOINT_HEADER_MULTI_READ)
#define NT_BENCH_TP_H

#include <lttng/tracepoint.h>
#include <stdint.h>

LTTNG_UST_TRACEPOINT_EVENT(numatrace_bench, resolve,
                           LTTNG_UST_TP_ARGS(int32_t, slot, uint32_t, file_idx, uint64_t, offset, uint64_t, size,
                                             const void*, address, const char*, name),
                           LTTNG_UST_TP_FIELDS(lttng_ust_field_integer(int32_t, slot, slot)
                                                   lttng_ust_field_integer(uint32_t, file_idx, file_idx)
                                                       lttng_ust_field_integer_hex(uint64_t, offset, offset)
                                                           lttng_ust_field_integer(uint64_t, size, size)
                                                               lttng_ust_field_integer_hex(uintptr_t, address,
                                                                                           (uintptr_t)address)
                                                                   lttng_ust_field_string(name, name)))

#endif

#include <lttng/tracepoint-event.h>
