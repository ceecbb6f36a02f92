/*
 * numa-trace hooks for model loaders. Include this header, call the
 * NUMATRACE_* functions at the places docs/hooks.md shows, and build as
 * usual: there is no link dependency. The recorder's entry points are
 * referenced weakly, so when libnumatrace is not loaded each call costs one
 * load and one predictable branch and does nothing; when it is (linked, or
 * LD_PRELOAD=libnumatrace.so, or `numa-trace run`), the calls record.
 *
 * Works from C (C99 or later) and C++. The program must be position
 * independent (PIE or a shared library, the Debian default): a non-PIE
 * executable resolves undefined weak symbols to 0 at link time.
 */
#ifndef NUMATRACE_HOOKS_H
#define NUMATRACE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Mapping kinds (same values as the flight recorder's). */
#define NUMATRACE_KIND_PER_FILE 1 /* one file, slot = file idx */
#define NUMATRACE_KIND_UNIFIED 2  /* all files back to back in one region, slot 0 */
#define NUMATRACE_KIND_REPLICA 3  /* a unified copy bound to one NUMA node */

/* Mapping flags. */
#define NUMATRACE_MAP_HUGETLB 0x1u
#define NUMATRACE_MAP_POPULATE 0x2u
#define NUMATRACE_MAP_FIXED 0x4u /* `requested` was asked for */
#define NUMATRACE_MAP_ANON 0x8u  /* anonymous / numa_alloc memory rather than the file */

/* Where one file lies inside a unified or replica mapping. */
typedef struct numatrace_extent {
  uint32_t file_idx;
  uint64_t offset; /* in the mapping */
  uint64_t length; /* bytes of the file */
} numatrace_extent;

/* The recorder's entry points, defined by libnumatrace (strongly: the
 * library is built with NUMATRACE_BUILDING_RECORDER). */
#ifdef NUMATRACE_BUILDING_RECORDER
#define NUMATRACE_WEAK
#else
#define NUMATRACE_WEAK __attribute__((weak))
#endif
extern void numatrace_model_begin(const char* path, uint32_t n_files) NUMATRACE_WEAK;
extern void numatrace_model_end(void) NUMATRACE_WEAK;
extern void numatrace_file_open(uint32_t file_idx, const char* path, uint64_t size) NUMATRACE_WEAK;
extern void numatrace_mapping_create(int32_t slot, uint32_t kind, const void* base, uint64_t length, int32_t node,
                                     uint32_t flags, const void* requested, const numatrace_extent* extents,
                                     uint32_t n_extents) NUMATRACE_WEAK;
extern void numatrace_resolve(int32_t slot, uint32_t file_idx, uint64_t offset, uint64_t size, const void* address,
                              const char* tensor_name) NUMATRACE_WEAK;
extern void numatrace_resolve_done(void) NUMATRACE_WEAK;
extern void numatrace_file_read(uint32_t file_idx, uint64_t offset, uint64_t length,
                                const void* destination) NUMATRACE_WEAK;
extern void numatrace_unmap_fragment(int32_t slot, const void* address, uint64_t length) NUMATRACE_WEAK;
extern void numatrace_mapping_destroy(int32_t slot, const void* base) NUMATRACE_WEAK;
extern void numatrace_mlock_grow(int32_t slot, const void* address, uint64_t size) NUMATRACE_WEAK;
extern void numatrace_unified_test(int answer) NUMATRACE_WEAK;
extern void numatrace_sample_placement(void) NUMATRACE_WEAK;
#undef NUMATRACE_WEAK

/*
 * The calls a loader makes. Each is a no-op unless libnumatrace is loaded.
 *
 * NUMATRACE_RESOLVE must come BEFORE the loader dereferences the slot: pass
 * the address it is about to use, or NULL when the slot is empty (that is
 * the NT001 crash numa-trace exists to explain). NUMATRACE_RESOLVE_DONE
 * (optional) says the thread is done with that tensor's bytes: a crash
 * after it is not blamed on that resolve (the thread's next hook call says
 * the same).
 */
#ifdef NUMATRACE_NO_HOOKS
/* Compiled out: the same program without numa-trace's hooks (to trace it
 * as an unmodified program through the preload interposer). The arguments
 * stay in an unevaluated sizeof, so they count as used and are not run. */
#define NUMATRACE_CALL(fn, ...) ((void)sizeof(__typeof__(((void)(__VA_ARGS__), 0))))
#define NUMATRACE_CALL0(fn) ((void)0)
#else
#define NUMATRACE_CALL(fn, ...) \
  do {                          \
    if (fn) fn(__VA_ARGS__);    \
  } while (0)
#define NUMATRACE_CALL0(fn) \
  do {                      \
    if (fn) fn();           \
  } while (0)
#endif

#define NUMATRACE_MODEL_BEGIN(path, n_files) NUMATRACE_CALL(numatrace_model_begin, (path), (n_files))
#define NUMATRACE_MODEL_END() NUMATRACE_CALL0(numatrace_model_end)
#define NUMATRACE_FILE_OPEN(idx, path, size) NUMATRACE_CALL(numatrace_file_open, (idx), (path), (size))
#define NUMATRACE_MAPPING_CREATE(slot, kind, base, length, node, flags, requested, extents, n_extents)                \
  NUMATRACE_CALL(numatrace_mapping_create, (slot), (kind), (base), (length), (node), (flags), (requested), (extents), \
                 (n_extents))
#define NUMATRACE_RESOLVE(slot, file_idx, offset, size, address, name) \
  NUMATRACE_CALL(numatrace_resolve, (slot), (file_idx), (offset), (size), (address), (name))
#define NUMATRACE_RESOLVE_DONE() NUMATRACE_CALL0(numatrace_resolve_done)
#define NUMATRACE_FILE_READ(file_idx, offset, length, destination) \
  NUMATRACE_CALL(numatrace_file_read, (file_idx), (offset), (length), (destination))
#define NUMATRACE_UNMAP_FRAGMENT(slot, address, length) \
  NUMATRACE_CALL(numatrace_unmap_fragment, (slot), (address), (length))
#define NUMATRACE_MAPPING_DESTROY(slot, base) NUMATRACE_CALL(numatrace_mapping_destroy, (slot), (base))
#define NUMATRACE_MLOCK_GROW(slot, address, size) NUMATRACE_CALL(numatrace_mlock_grow, (slot), (address), (size))
#define NUMATRACE_UNIFIED_TEST(answer) NUMATRACE_CALL(numatrace_unified_test, (answer))
#define NUMATRACE_SAMPLE_PLACEMENT() NUMATRACE_CALL0(numatrace_sample_placement)

#ifdef __cplusplus
}
#endif

#endif /* NUMATRACE_HOOKS_H */
