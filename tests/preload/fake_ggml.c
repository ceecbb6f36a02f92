/* A stand-in for libggml-base.so: the three functions the interposer uses,
 * with ggml's names and signatures (the tensor reduced to what they need). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct ggml_tensor {
  size_t nbytes;
  void* data;
  char name[64];
};

const char* ggml_get_name(const struct ggml_tensor* t) {
  return t->name;
}
size_t ggml_nbytes(const struct ggml_tensor* t) {
  return t->nbytes;
}

/* enum ggml_status: 0 = GGML_STATUS_SUCCESS */
int ggml_backend_tensor_alloc(void* buffer, struct ggml_tensor* t, void* addr) {
  (void)buffer;
  t->data = addr;
  return 0;
}

void ggml_backend_tensor_set(struct ggml_tensor* t, const void* data, size_t offset, size_t size) {
  memcpy((char*)t->data + offset, data, size);
}
