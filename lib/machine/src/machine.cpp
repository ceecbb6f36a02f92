// Reading the machine's facts (machine.h).
#include "numatrace/machine/machine.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "numatrace/fs.h"

namespace numatrace::machine {

namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::optional<uint64_t> read_u64(const std::string& path) {
  auto s = slurp(path);
  if (!s) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s->c_str(), &end, 10);
  if (errno || end == s->c_str()) return std::nullopt;
  return v;
}

// "Node 0 MemFree:   1234 kB" or "MemFree:   1234 kB": the value of `key`, in bytes.
std::optional<uint64_t> meminfo_value(const std::string& text, const std::string& key) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t at = line.find(key + ":");
    if (at == std::string::npos || (at > 0 && line[at - 1] != ' ')) continue;
    unsigned long long v = 0;
    char unit[8] = {};
    if (std::sscanf(line.c_str() + at + key.size() + 1, "%llu %7s", &v, unit) >= 1)
      return static_cast<uint64_t>(v) * (std::strcmp(unit, "kB") == 0 ? 1024 : 1);
  }
  return std::nullopt;
}

// "hugepages-2048kB" -> 2 MiB.
uint64_t hugepage_dir_size(const std::string& name) {
  if (name.rfind("hugepages-", 0) != 0) return 0;
  return std::strtoull(name.c_str() + 10, nullptr, 10) * 1024;
}

std::vector<HugePool> read_pools(const std::string& dir) {
  std::vector<HugePool> pools;
  DIR* d = opendir(dir.c_str());
  if (!d) return pools;
  while (dirent* e = readdir(d)) {
    uint64_t size = hugepage_dir_size(e->d_name);
    if (!size) continue;
    HugePool p;
    p.page_size = size;
    p.total = read_u64(dir + "/" + e->d_name + "/nr_hugepages").value_or(0);
    p.free = read_u64(dir + "/" + e->d_name + "/free_hugepages").value_or(0);
    pools.push_back(p);
  }
  closedir(d);
  std::sort(pools.begin(), pools.end(), [](const HugePool& a, const HugePool& b) { return a.page_size < b.page_size; });
  return pools;
}

// "pagesize=2M" / "pagesize=1024k" in a mount's options.
uint64_t pagesize_option(const std::string& opts) {
  size_t at = opts.find("pagesize=");
  if (at == std::string::npos) return 0;
  char* end = nullptr;
  uint64_t v = std::strtoull(opts.c_str() + at + 9, &end, 10);
  switch (end ? *end : 0) {
    case 'G': return v << 30;
    case 'M': return v << 20;
    case 'K':
    case 'k': return v << 10;
    default: return v;
  }
}

// /proc/self/limits: "Max locked memory   8388608   8388608   bytes".
void read_memlock(const Roots& roots, Machine& m) {
  auto text = slurp(roots.proc + "/self/limits");
  if (!text) {
    m.unknown.push_back("the mlock limit: " + roots.proc + "/self/limits cannot be read");
    return;
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Max locked memory", 0) != 0) continue;
    std::istringstream f(line.substr(17));
    std::string soft, hard;
    f >> soft >> hard;
    auto value = [](const std::string& s) -> uint64_t {
      return s == "unlimited" ? kUnlimited : std::strtoull(s.c_str(), nullptr, 10);
    };
    m.memlock_soft = value(soft);
    m.memlock_hard = value(hard);
    return;
  }
  m.unknown.push_back("the mlock limit: no \"Max locked memory\" line in " + roots.proc + "/self/limits");
}

}  // namespace

Machine read_machine(const Roots& roots) {
  Machine m;
  m.page_size = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const std::string node_dir = roots.sys + "/devices/system/node";
  if (DIR* d = opendir(node_dir.c_str())) {
    m.numa_sysfs = true;
    while (dirent* e = readdir(d)) {
      if (std::strncmp(e->d_name, "node", 4) != 0 || !e->d_name[4]) continue;
      char* end = nullptr;
      long id = std::strtol(e->d_name + 4, &end, 10);
      if (*end || id < 0) continue;
      Node n;
      n.id = static_cast<int>(id);
      const std::string dir = node_dir + "/" + e->d_name;
      n.cpus = trim(slurp(dir + "/cpulist").value_or(""));
      if (auto mi = slurp(dir + "/meminfo")) {
        n.mem_total = meminfo_value(*mi, "MemTotal");
        n.mem_free = meminfo_value(*mi, "MemFree");
        auto a = meminfo_value(*mi, "Active(file)"), i = meminfo_value(*mi, "Inactive(file)");
        if (a && i) n.file_lru = *a + *i;
      }
      if (!n.mem_free) m.unknown.push_back("node " + std::to_string(id) + "'s free memory: " + dir + "/meminfo");
      n.huge = read_pools(dir + "/hugepages");
      m.nodes.push_back(n);
    }
    closedir(d);
    std::sort(m.nodes.begin(), m.nodes.end(), [](const Node& a, const Node& b) { return a.id < b.id; });
  }
  if (m.nodes.empty()) {
    // A kernel without NUMA (or a container hiding it): one node, /proc/meminfo's.
    Node n;
    if (auto mi = slurp(roots.proc + "/meminfo")) {
      n.mem_total = meminfo_value(*mi, "MemTotal");
      n.mem_free = meminfo_value(*mi, "MemFree");
      auto a = meminfo_value(*mi, "Active(file)"), i = meminfo_value(*mi, "Inactive(file)");
      if (a && i) n.file_lru = *a + *i;
    } else {
      m.unknown.push_back("free memory: " + roots.proc + "/meminfo cannot be read");
    }
    n.huge = read_pools(roots.sys + "/kernel/mm/hugepages");
    m.nodes.push_back(n);
    m.unknown.push_back("NUMA nodes: " + node_dir +
                        " does not exist (a kernel without NUMA, or hidden): " + "the machine is taken as one node");
  }

  if (auto v = read_u64(roots.proc + "/sys/kernel/numa_balancing"))
    m.numa_balancing = static_cast<int>(*v);
  else if (m.nodes.size() > 1)
    m.unknown.push_back("automatic NUMA balancing: " + roots.proc + "/sys/kernel/numa_balancing cannot be read");
  if (auto t = slurp(roots.sys + "/kernel/mm/transparent_hugepage/enabled")) {
    // "always [madvise] never": the bracketed word is the mode.
    size_t a = t->find('['), b = t->find(']');
    if (a != std::string::npos && b > a) m.thp = t->substr(a + 1, b - a - 1);
  }
  if (m.thp.empty())
    m.unknown.push_back("transparent hugepages: " + roots.sys + "/kernel/mm/transparent_hugepage/enabled");
  read_memlock(roots, m);

  if (auto mounts = slurp(roots.proc + "/self/mounts")) {
    std::istringstream in(*mounts);
    std::string dev, dir, type, opts;
    while (in >> dev >> dir >> type >> opts) {
      std::string rest;
      std::getline(in, rest);
      if (type != "hugetlbfs") continue;
      HugetlbfsMount h;
      h.dir = dir;
      h.page_size = pagesize_option(opts);
      struct statfs sfs {};
      if (statfs(dir.c_str(), &sfs) == 0 && sfs.f_type == kHugetlbfsMagic) {
        h.statfs_ok = true;
        h.page_size = static_cast<uint64_t>(sfs.f_bsize);
        if (sfs.f_blocks) {  // a size= limit; without one statfs reports 0
          h.limit = sfs.f_blocks;
          h.free = sfs.f_bfree;
        }
      }
      m.hugetlbfs.push_back(h);
    }
  } else {
    m.unknown.push_back("hugetlbfs mounts: " + roots.proc + "/self/mounts cannot be read");
  }
  return m;
}

CachePlacement page_cache_placement(const std::string& path, uint64_t max_samples) {
  CachePlacement out;
  std::string why;
  struct stat st {};
  int fd = open_regular(path, why, &st);
  if (fd < 0) {
    out.error = why;
    return out;
  }
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  out.pages = (size + page - 1) / page;
  if (!size) {
    ::close(fd);
    return out;
  }
  void* base = mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  if (base == MAP_FAILED) {
    out.error = std::string("mmap: ") + std::strerror(errno);
    return out;
  }
  std::vector<unsigned char> vec(out.pages);
  if (mincore(base, size, vec.data()) != 0) {
    out.error = std::string("mincore: ") + std::strerror(errno);
    munmap(base, size);
    return out;
  }
  std::vector<uint64_t> resident;
  for (uint64_t i = 0; i < out.pages; ++i)
    if (vec[i] & 1) resident.push_back(i);
  out.resident = resident.size();
  const uint64_t n = std::min<uint64_t>(resident.size(), max_samples);
  std::vector<void*> pages(n);
  std::vector<int> status(n, -1);
  for (uint64_t k = 0; k < n; ++k) {
    char* p = static_cast<char*>(base) + resident[k * resident.size() / n] * page;
    // Resident already: the read maps it into this process without I/O,
    // so that move_pages can see its node.
    *static_cast<volatile char*>(p);
    pages[k] = p;
  }
  if (n && syscall(SYS_move_pages, 0, static_cast<unsigned long>(n), pages.data(), nullptr, status.data(), 0) != 0) {
    out.error = std::string("move_pages: ") + std::strerror(errno);
    munmap(base, size);
    return out;
  }
  for (uint64_t k = 0; k < n; ++k) {
    if (status[k] < 0) continue;
    if (out.per_node.size() <= static_cast<size_t>(status[k])) out.per_node.resize(static_cast<size_t>(status[k]) + 1);
    out.per_node[static_cast<size_t>(status[k])]++;
    out.sampled++;
  }
  munmap(base, size);
  return out;
}

}  // namespace numatrace::machine
