// Fuzz target: an ELF core as postmortem opens it (Core::open: ELF and
// program headers, the notes: NT_PRSTATUS, NT_SIGINFO, NT_AUXV, NT_FILE,
// AT_EXECFN read from the core's memory), then the flight recorder found
// by its magic in the core's writable segments. The input reaches the
// reader as a file (a memfd), as a core does. zstd-compressed input is left
// out: decompression is bounded by the headers it produces (up to 64 GiB
// of zeros written as holes), too slow per input to fuzz usefully; its
// bounds have their own tests (tests/hostile/inputs.sh).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace numatrace::postmortem;
  if (size >= 4 && data[0] == 0x28 && data[1] == 0xb5 && data[2] == 0x2f && data[3] == 0xfd) return 0;
  int fd = memfd_create("fuzz-core", MFD_CLOEXEC);
  if (fd < 0) return 0;
  for (size_t at = 0; at < size;) {
    ssize_t n = write(fd, data + at, size - at);
    if (n <= 0) break;
    at += static_cast<size_t>(n);
  }
  {
    auto core = Core::open("/proc/self/fd/" + std::to_string(fd));
    if (core) {
      const Core& c = **core;
      char probe[64];
      for (const auto& f : c.nt_file) (void)c.read(f.start, probe, sizeof probe);
      for (const auto& s : c.loads()) (void)c.view(s.vaddr, static_cast<size_t>(std::min<uint64_t>(s.filesz, 4096)));
      Report r;
      (void)scan_recorder(c, r);
      if (r.recorder) (void)judge(*r.recorder, c.first_tid, c.signal, c.fault_address, "");
    }
  }
  close(fd);
  return 0;
}
