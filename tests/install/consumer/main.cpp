#include <cstdio>

#include "numatrace/gguf/model.h"

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto m = numatrace::gguf::open_model(argv[1]);
  if (!m) return 2;
  std::printf("%u\n", m->split_count);
  return m->valid() ? 0 : 1;
}
