// ggml's tensor and context, reduced to what the shaped loader touches. The
// tensor's `name` is GGML_MAX_NAME wide, as upstream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#define GGML_MAX_NAME 64

struct ggml_tensor {
  int32_t type;
  int64_t ne[4];
  size_t nb[4];
  void* data;
  char name[GGML_MAX_NAME];
};

struct ggml_context {
  std::vector<ggml_tensor*> tensors;
};

extern "C" const char* ggml_get_name(const ggml_tensor* tensor);
