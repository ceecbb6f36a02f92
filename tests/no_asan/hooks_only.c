/* A C11 "loader" that includes only numatrace/hooks.h and links nothing of
 * numa-trace. It maps N files per file (slot = file idx), resolves one
 * "tensor" in each and checks the bytes. With "crash" it builds the unified
 * layout instead, leaves slots 1..N-1 empty, and resolves file 1 through
 * slot 1, as the NUMA-mirror loader does: SIGSEGV. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "numatrace/hooks.h"

#define MAX_FILES 8

struct mapping {
  unsigned char* addr;
  size_t size;
};

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s per-file|crash FILE...\n", argv[0]);
    return 2;
  }
  int crash = strcmp(argv[1], "crash") == 0;
  int n = argc - 2 < MAX_FILES ? argc - 2 : MAX_FILES;
  struct mapping* slots[MAX_FILES] = {0};
  struct mapping storage[MAX_FILES];
  size_t sizes[MAX_FILES];
  int fds[MAX_FILES];
  NUMATRACE_MODEL_BEGIN(argv[2], (uint32_t)n);
  for (int i = 0; i < n; ++i) {
    struct stat st;
    fds[i] = open(argv[2 + i], O_RDONLY | O_CLOEXEC);
    if (fds[i] < 0 || fstat(fds[i], &st) != 0) {
      perror(argv[2 + i]);
      return 2;
    }
    sizes[i] = (size_t)st.st_size;
    NUMATRACE_FILE_OPEN((uint32_t)i, argv[2 + i], sizes[i]);
  }
  if (!crash) {
    for (int i = 0; i < n; ++i) {
      void* p = mmap(NULL, sizes[i], PROT_READ, MAP_SHARED, fds[i], 0);
      if (p == MAP_FAILED) return 2;
      storage[i].addr = p;
      storage[i].size = sizes[i];
      slots[i] = &storage[i];
      NUMATRACE_MAPPING_CREATE(i, NUMATRACE_KIND_PER_FILE, p, sizes[i], -1, 0, NULL, NULL, 0);
    }
  } else {
    size_t total = 0;
    numatrace_extent ext[MAX_FILES];
    for (int i = 0; i < n; ++i) {
      ext[i].file_idx = (uint32_t)i;
      ext[i].offset = total;
      ext[i].length = sizes[i];
      total += sizes[i];
    }
    unsigned char* u = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (u == MAP_FAILED) return 2;
    for (int i = 0; i < n; ++i)
      if (pread(fds[i], u + ext[i].offset, sizes[i], 0) != (ssize_t)sizes[i]) return 2;
    storage[0].addr = u;
    storage[0].size = total;
    slots[0] = &storage[0];
    NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u, total, -1, NUMATRACE_MAP_ANON, NULL, ext, (uint32_t)n);
  }
  unsigned sum = 0;
  for (int i = 0; i < n; ++i) {
    const size_t offs = sizes[i] / 2, size = 16;
    struct mapping* m = slots[i];
    NUMATRACE_RESOLVE(i, (uint32_t)i, offs, size, m ? m->addr + offs : NULL,
                      i ? "blk.1.ffn_up.weight" : "token_embd.weight");
    const unsigned char* data = slots[i]->addr + offs; /* slot i is null in unified mode: the crash */
    for (size_t k = 0; k < size; ++k) sum += data[k];
  }
  NUMATRACE_MODEL_END();
  for (int i = 0; i < n; ++i) {
    if (slots[i]) {
      NUMATRACE_MAPPING_DESTROY(i, slots[i]->addr);
      munmap(slots[i]->addr, slots[i]->size);
    }
    close(fds[i]);
  }
  printf("ok %d files checksum %u\n", n, sum);
  return 0;
}
