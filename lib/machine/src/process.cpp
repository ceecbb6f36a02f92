// A running process seen from outside (process.h).
#include "numatrace/machine/process.h"

#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace numatrace::machine {

Maps read_maps(pid_t pid) {
  Maps m;
  const std::string dir = "/proc/" + std::to_string(pid);
  std::ifstream in(dir + "/maps");
  if (!in) {
    m.err = errno;
    m.error = std::strerror(errno);
    return m;
  }
  std::getline(std::ifstream(dir + "/comm"), m.comm);
  std::string line;
  while (std::getline(in, line)) {
    Vma v;
    unsigned long long start = 0, end = 0, offset = 0;
    char perms[8] = {};
    int path_at = 0;
    if (std::sscanf(line.c_str(), "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &offset, &path_at) < 4)
      continue;
    v.start = start;
    v.end = end;
    v.offset = offset;
    v.perms = perms;
    if (path_at > 0 && static_cast<size_t>(path_at) <= line.size()) v.path = line.substr(static_cast<size_t>(path_at));
    m.vmas.push_back(v);
  }
  if (m.vmas.empty() && in.bad()) {
    m.err = EIO;
    m.error = "cannot read its maps";
  }
  return m;
}

int query_nodes(pid_t pid, const std::vector<uint64_t>& pages, std::vector<int>& status, uint64_t pages_per_second) {
  status.assign(pages.size(), -ENOENT);
  std::vector<void*> batch;
  for (size_t at = 0; at < pages.size(); at += kBatch) {
    const size_t n = std::min(kBatch, pages.size() - at);
    batch.assign(n, nullptr);
    for (size_t i = 0; i < n; ++i) batch[i] = reinterpret_cast<void*>(pages[at + i]);
    if (syscall(SYS_move_pages, pid, static_cast<unsigned long>(n), batch.data(), nullptr, status.data() + at, 0) != 0)
      return errno;
    if (pages_per_second && at + n < pages.size()) {
      // The batch's share of a second: the rate is bounded whatever the
      // size of the model.
      const uint64_t ns = 1000000000ull * n / pages_per_second;
      timespec ts{static_cast<time_t>(ns / 1000000000ull), static_cast<long>(ns % 1000000000ull)};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
      }
    }
  }
  return 0;
}

std::map<uint64_t, std::vector<uint64_t>> read_numa_maps(pid_t pid) {
  std::map<uint64_t, std::vector<uint64_t>> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/numa_maps");
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string word;
    f >> std::hex;
    unsigned long long start = 0;
    if (!(f >> start)) continue;
    f >> std::dec;
    std::vector<uint64_t>& nodes = out[start];
    while (f >> word) {
      unsigned node = 0;
      unsigned long long pages = 0;
      if (std::sscanf(word.c_str(), "N%u=%llu", &node, &pages) == 2 && node < 1024) {
        if (nodes.size() <= node) nodes.resize(node + 1);
        nodes[node] += pages;
      }
    }
  }
  return out;
}

std::unique_ptr<nt_flight_recorder> read_recorder(pid_t pid, const Maps& maps, std::string& why) {
  // The writable mappings of libnumatrace.so and the anonymous one right
  // after them (its .bss, where the recorder lives).
  std::vector<const Vma*> candidates;
  bool loaded = false;
  for (size_t i = 0; i < maps.vmas.size(); ++i) {
    const Vma& v = maps.vmas[i];
    const size_t slash = v.path.rfind('/');
    const std::string base = slash == std::string::npos ? v.path : v.path.substr(slash + 1);
    if (base.rfind("libnumatrace.so", 0) != 0) continue;
    loaded = true;
    if (v.perms.size() > 1 && v.perms[1] == 'w') {
      candidates.push_back(&v);
      if (i + 1 < maps.vmas.size() && maps.vmas[i + 1].path.empty() && maps.vmas[i + 1].start == v.end)
        candidates.push_back(&maps.vmas[i + 1]);
    }
  }
  if (!loaded) {
    why = "libnumatrace is not loaded in the process";
    return nullptr;
  }
  // Contiguous candidates are read as one range: the recorder may straddle
  // the end of .data's file mapping and the start of .bss.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (const Vma* v : candidates) {
    if (!ranges.empty() && ranges.back().second == v->start)
      ranges.back().second = v->end;
    else
      ranges.push_back({v->start, v->end});
  }
  const uint64_t magic = NT_FR_MAGIC;
  std::vector<char> buf;
  for (const auto& [start, end] : ranges) {
    const uint64_t len = end - start;
    if (len > (64u << 20)) continue;
    buf.resize(len);
    iovec local{buf.data(), len}, remote{reinterpret_cast<void*>(start), len};
    if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len)) {
      why = std::string("cannot read the process's memory: ") + std::strerror(errno);
      continue;
    }
    for (uint64_t off = 0; off + sizeof(nt_flight_recorder) <= len; off += 8) {
      if (std::memcmp(buf.data() + off, &magic, sizeof magic) != 0) continue;
      auto r = std::make_unique<nt_flight_recorder>();
      std::memcpy(r.get(), buf.data() + off, sizeof *r);
      if (r->version != NT_FR_VERSION || r->size != sizeof *r) {
        why = "the flight recorder has version " + std::to_string(r->version) + " and size " + std::to_string(r->size) +
              "; this numa-trace reads version " + std::to_string(NT_FR_VERSION);
        return nullptr;
      }
      why.clear();
      return r;
    }
  }
  if (why.empty()) why = "libnumatrace is loaded but its flight recorder was not found in its memory";
  return nullptr;
}

}  // namespace numatrace::machine
