/* An unmodified program that maps GGUF splits and hands tensors to ggml,
 * as llama.cpp built with shared libraries does: each split mmapped
 * MAP_SHARED, then ggml_backend_tensor_alloc(buffer, tensor, base + offset)
 * for tensors in mmap buffers, ggml_backend_tensor_set for a copied one.
 * Usage: ggml_user FILE... (each file gets 2 "tensors"). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct ggml_tensor {
  size_t nbytes;
  void* data;
  char name[64];
};
int ggml_backend_tensor_alloc(void* buffer, struct ggml_tensor* t, void* addr);
void ggml_backend_tensor_set(struct ggml_tensor* t, const void* data, size_t offset, size_t size);

int main(int argc, char** argv) {
  static char copy[4096];
  for (int i = 1; i < argc; ++i) {
    FILE* f = fopen(argv[i], "rb");
    if (!f) {
      perror(argv[i]);
      return 2;
    }
    struct stat st;
    fstat(fileno(f), &st);
    unsigned char* base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fileno(f), 0);
    if (base == MAP_FAILED) return 2;
    struct ggml_tensor a = {256, NULL, ""}, b = {64, copy, ""};
    snprintf(a.name, sizeof a.name, "blk.%d.attn_q.weight", i - 1);
    snprintf(b.name, sizeof b.name, "blk.%d.ffn_norm.weight", i - 1);
    ggml_backend_tensor_alloc(NULL, &a, base + 4096);
    ggml_backend_tensor_set(&b, base + 8192, 0, b.nbytes);
    munmap(base, (size_t)st.st_size);
    fclose(f);
  }
  puts("done");
  return 0;
}
