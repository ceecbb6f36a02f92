// The same from C++: include only the hooks header, link nothing else.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <vector>

#include "numatrace/hooks.h"

namespace {

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr) munmap(addr, size);
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::vector<std::unique_ptr<Mapping>> mappings;
  NUMATRACE_MODEL_BEGIN(argv[1], static_cast<uint32_t>(argc - 1));
  unsigned sum = 0;
  for (int i = 1; i < argc; ++i) {
    int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
    struct stat st {};
    if (fd < 0 || fstat(fd, &st) != 0) return 2;
    const auto idx = static_cast<uint32_t>(i - 1);
    NUMATRACE_FILE_OPEN(idx, argv[i], static_cast<uint64_t>(st.st_size));
    auto m = std::make_unique<Mapping>();
    m->size = static_cast<size_t>(st.st_size);
    m->addr = mmap(nullptr, m->size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m->addr == MAP_FAILED) return 2;
    NUMATRACE_MAPPING_CREATE(static_cast<int32_t>(idx), NUMATRACE_KIND_PER_FILE, m->addr, m->size, -1, 0, nullptr,
                             nullptr, 0);
    mappings.push_back(std::move(m));
  }
  for (uint32_t i = 0; i < mappings.size(); ++i) {
    auto* base = static_cast<const unsigned char*>(mappings[i]->addr);
    NUMATRACE_RESOLVE(static_cast<int32_t>(i), i, 0, 8, base, "output.weight");
    for (int k = 0; k < 8; ++k) sum += base[k];
  }
  NUMATRACE_MODEL_END();
  for (uint32_t i = 0; i < mappings.size(); ++i) NUMATRACE_MAPPING_DESTROY(static_cast<int32_t>(i), mappings[i]->addr);
  mappings.clear();
  std::printf("ok %zu files checksum %u\n", static_cast<size_t>(argc - 1), sum);
  return 0;
}
