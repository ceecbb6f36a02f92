/*
 * Test-only preload shim: a real SIGSEGV inside the real llama.cpp's load.
 * NT_CRASH_IN=alloc:N  crashes in the Nth ggml_backend_tensor_alloc call that
 *                      places a tensor from a mapped split (a resolve is in
 *                      flight: the tensor is being placed);
 * NT_CRASH_IN=munmap:N crashes in the Nth munmap made by a thread that
 *                      placed a tensor, after it did (every resolve of that
 *                      thread has finished; another thread's munmap, such as
 *                      node's garbage collector's, does not count).
 * Otherwise each call goes on to the definition the caller would have used.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long g_allocs, g_munmaps;
static __thread long t_allocs; /* this thread's placements */

static long crash_at(const char* what) {
  const char* spec = getenv("NT_CRASH_IN");
  size_t n = strlen(what);
  if (!spec || strncmp(spec, what, n) != 0 || spec[n] != ':') return -1;
  return strtol(spec + n + 1, NULL, 10);
}

/* One crashing function per place, never inlined: the crashing frame (what
 * postmortem groups cores by) names the place in every build, with or
 * without debug info. */
__attribute__((noinline)) static void crash_in_alloc(void) {
  volatile int* volatile p = NULL;
  *p = 1; /* SIGSEGV at address 0 */
}
__attribute__((noinline)) static void crash_in_munmap(void) {
  volatile int* volatile p = NULL;
  *p = 2;
}

/* The real definition, in libggml-base.so (loaded RTLD_LOCAL by node, so
 * not in the global scope that RTLD_NEXT searches). */
static void* ggml_definition(const char* name) {
  void* h = dlopen("libggml-base.so", RTLD_LAZY | RTLD_NOLOAD);
  void* p = h ? dlsym(h, name) : NULL;
  if (h) dlclose(h);
  return p;
}

/* Whether addr lies in a mapping of a .gguf file: only those allocs place
 * a tensor from the model's mmap (llama.cpp's CPU backends also allocate
 * other tensors, how many depends on the CPU variant it picked). */
static int in_gguf_mapping(const void* addr) {
  FILE* f = fopen("/proc/self/maps", "re");
  char line[4096];
  int found = 0;
  unsigned long a = (unsigned long)addr;
  while (f && !found && fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi) found = strstr(line, ".gguf") != NULL;
  }
  if (f) fclose(f);
  return found;
}

int ggml_backend_tensor_alloc(void* buffer, void* tensor, void* addr) {
  typedef int (*alloc_t)(void*, void*, void*);
  static alloc_t next;
  if (!next) next = (alloc_t)ggml_definition("ggml_backend_tensor_alloc");
  if (in_gguf_mapping(addr)) {
    ++t_allocs;
    if (++g_allocs == crash_at("alloc")) crash_in_alloc();
  }
  return next ? next(buffer, tensor, addr) : 1;
}

int munmap(void* addr, size_t length) {
  typedef int (*munmap_t)(void*, size_t);
  static munmap_t next;
  if (!next) next = (munmap_t)dlsym(RTLD_NEXT, "munmap");
  if (t_allocs > 0 && ++g_munmaps == crash_at("munmap")) crash_in_munmap();
  return next(addr, length);
}
