// numa-trace check's machine reader on fake sysfs/procfs trees, and its
// judgement of a planned load on machines described in the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "numatrace/machine/plan.h"

using namespace numatrace::machine;
namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMiB = 1 << 20;

class Tree {
 public:
  Tree() {
    char tmpl[] = "/tmp/nt-machine-XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  ~Tree() { fs::remove_all(root_); }
  Tree(const Tree&) = delete;
  Tree& operator=(const Tree&) = delete;
  void file(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(root_ + path).parent_path());
    std::ofstream(root_ + path) << text;
  }
  // A node with `free` and `file_lru` MiB and hugepages of 2 MiB.
  void node(int id, const std::string& cpus, uint64_t free, uint64_t file_lru, int huge_total, int huge_free) {
    const std::string d = "/sys/devices/system/node/node" + std::to_string(id);
    file(d + "/cpulist", cpus + "\n");
    const std::string n = "Node " + std::to_string(id) + " ";
    file(d + "/meminfo", n + "MemTotal:        1048576 kB\n" + n + "MemFree:  " + std::to_string(free * 1024) +
                             " kB\n" + n + "Active(file):  " + std::to_string(file_lru * 512) + " kB\n" + n +
                             "Inactive(file):  " + std::to_string(file_lru * 512) + " kB\n" + n + "Shmem:  4096 kB\n");
    file(d + "/hugepages/hugepages-2048kB/nr_hugepages", std::to_string(huge_total) + "\n");
    file(d + "/hugepages/hugepages-2048kB/free_hugepages", std::to_string(huge_free) + "\n");
  }
  Roots roots() const { return {root_ + "/sys", root_ + "/proc"}; }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

void two_node_machine(Tree& t) {
  t.node(0, "0-3", 900, 64, 16, 16);
  t.node(1, "4-7", 100, 20, 16, 2);
  t.file("/proc/sys/kernel/numa_balancing", "1\n");
  t.file("/sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n");
  t.file("/proc/self/limits",
         "Limit                     Soft Limit           Hard Limit           Units     \n"
         "Max locked memory         8388608              unlimited            bytes     \n");
  t.file("/proc/self/mounts",
         "sysfs /sys sysfs rw 0 0\nnone /nonexistent/huge hugetlbfs rw,relatime,pagesize=2M 0 0\n");
}

ModelFacts model_of(uint64_t bytes) {
  ModelFacts m;
  m.path = "m-00001-of-00002.gguf";
  m.files = {"m-00001-of-00002.gguf", "m-00002-of-00002.gguf"};
  m.sizes = {bytes / 2, bytes / 2};
  m.total = m.region = bytes;
  return m;
}

const Item* find(const Plan& p, Item::Level level, int node = -2) {
  for (const auto& i : p.items)
    if (i.level == level && (node == -2 || i.node == node)) return &i;
  return nullptr;
}

}  // namespace

TEST(MachineRead, NodesMemoryHugepagesAndTheKernelsSettingsFromTheTrees) {
  Tree t;
  two_node_machine(t);
  const Machine m = read_machine(t.roots());
  ASSERT_TRUE(m.numa_sysfs);
  ASSERT_EQ(m.nodes.size(), 2u);
  EXPECT_EQ(m.nodes[1].id, 1);
  EXPECT_EQ(m.nodes[1].cpus, "4-7");
  EXPECT_EQ(m.nodes[1].mem_free, 100 * kMiB);
  EXPECT_EQ(m.nodes[1].file_lru, 20 * kMiB);
  EXPECT_EQ(m.nodes[1].available(), 120 * kMiB);
  ASSERT_NE(m.nodes[1].pool(2 * kMiB), nullptr);
  EXPECT_EQ(m.nodes[1].pool(2 * kMiB)->free, 2u);
  EXPECT_EQ(m.nodes[1].pool(2 * kMiB)->total, 16u);
  EXPECT_EQ(m.numa_balancing, 1);
  EXPECT_EQ(m.thp, "madvise");
  EXPECT_EQ(m.memlock_soft, 8 * kMiB);
  EXPECT_EQ(m.memlock_hard, kUnlimited);
  ASSERT_EQ(m.hugetlbfs.size(), 1u);
  EXPECT_EQ(m.hugetlbfs[0].dir, "/nonexistent/huge");
  EXPECT_EQ(m.hugetlbfs[0].page_size, 2 * kMiB);  // from pagesize=, statfs cannot see it
  EXPECT_FALSE(m.hugetlbfs[0].statfs_ok);
  EXPECT_TRUE(m.unknown.empty()) << m.unknown.front();
}

TEST(MachineRead, WithoutNumaSysfsTheMachineIsOneNodeAndSaysSo) {
  Tree t;
  t.file("/proc/meminfo", "MemTotal: 2048000 kB\nMemFree: 1024000 kB\nActive(file): 1000 kB\nInactive(file): 24 kB\n");
  t.file("/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "4\n");
  t.file("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "3\n");
  const Machine m = read_machine(t.roots());
  EXPECT_FALSE(m.numa_sysfs);
  ASSERT_EQ(m.nodes.size(), 1u);
  EXPECT_EQ(m.nodes[0].mem_free, 1024000u * 1024);
  EXPECT_EQ(m.nodes[0].available(), (1024000u + 1024) * 1024);
  ASSERT_NE(m.nodes[0].pool(2 * kMiB), nullptr);
  EXPECT_EQ(m.nodes[0].pool(2 * kMiB)->free, 3u);
  auto said = [&](const std::string& what) {
    for (const auto& u : m.unknown)
      if (u.find(what) != std::string::npos) return true;
    return false;
  };
  EXPECT_TRUE(said("NUMA nodes: ")) << "no word on the missing node tree";
  EXPECT_TRUE(said("transparent hugepages"));
  EXPECT_TRUE(said("the mlock limit"));
  EXPECT_TRUE(said("hugetlbfs mounts"));
  EXPECT_FALSE(m.numa_balancing.has_value());
}

TEST(MachineRead, AnEmptyTreeLeavesEveryFactUnknownNeverGuessed) {
  Tree t;
  const Machine m = read_machine(t.roots());
  ASSERT_EQ(m.nodes.size(), 1u);
  EXPECT_FALSE(m.nodes[0].mem_free.has_value());
  EXPECT_FALSE(m.memlock_soft.has_value());
  EXPECT_TRUE(m.thp.empty());
  EXPECT_GE(m.unknown.size(), 4u);
}

TEST(Plan, AMirrorLargerThanOneNodesMemoryIsRefusedWithTheNumbers) {
  Tree t;
  two_node_machine(t);
  const Machine m = read_machine(t.roots());
  PlanOptions o;
  o.strategy = Strategy::mirror;
  const Plan p = check_plan(model_of(200 * kMiB), m, {}, o);
  EXPECT_FALSE(p.fits());
  EXPECT_EQ(p.copies, 2);
  const Item* i = find(p, Item::problem, 1);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->code, "NT009");
  EXPECT_EQ(i->what.rfind("node 1: its replica needs 200.0 MiB and node 1 has 120.0 MiB available (100.0 MiB free, "
                          "20.0 MiB reclaimable page cache): 80.0 MiB short",
                          0),
            0u)
      << i->what;
  EXPECT_EQ(find(p, Item::problem, 0), nullptr);
  EXPECT_FALSE(p.nodes[1].fits);
  EXPECT_TRUE(p.nodes[0].fits);
  // The same model fits both nodes at 100 MiB.
  EXPECT_TRUE(check_plan(model_of(100 * kMiB), m, {}, o).fits());
}

TEST(Plan, TooFewHugepagesOnANodeNamesItAndTheCountMissing) {
  Tree t;
  two_node_machine(t);
  const Machine m = read_machine(t.roots());
  PlanOptions o;
  o.strategy = Strategy::mirror;
  o.hugetlbfs = "/nonexistent/huge/";
  const Plan p = check_plan(model_of(6 * kMiB), m, {}, o);
  EXPECT_EQ(p.huge_page, 2 * kMiB);
  EXPECT_EQ(p.hugepages, 3u);
  const Item* i = find(p, Item::problem, 1);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->what.rfind("node 1: its replica needs 3 hugepages of 2.0 MiB and node 1 has 2 free: 1 missing", 0), 0u)
      << i->what;
  EXPECT_EQ(i->fix, "echo 17 > /sys/devices/system/node/node1/hugepages/hugepages-2048kB/nr_hugepages");
  EXPECT_EQ(find(p, Item::problem, 0), nullptr);
  // A directory that is no hugetlbfs mount is a problem of its own.
  o.hugetlbfs = "/tmp";
  const Plan q = check_plan(model_of(6 * kMiB), m, {}, o);
  ASSERT_NE(find(q, Item::problem, -1), nullptr);
  EXPECT_NE(find(q, Item::problem, -1)->what.find("/tmp is not a hugetlbfs mount"), std::string::npos);
}

TEST(Plan, MlockLimitBalancingAndUnifiedAdvice) {
  Tree t;
  two_node_machine(t);
  const Machine m = read_machine(t.roots());
  PlanOptions o;
  o.strategy = Strategy::unified;
  o.mlock = true;
  const Plan p = check_plan(model_of(64 * kMiB), m, {}, o);
  const Item* lock = find(p, Item::problem, -1);
  ASSERT_NE(lock, nullptr);
  EXPECT_NE(lock->what.find("--mlock locks 64.0 MiB and RLIMIT_MEMLOCK is 8.0 MiB"), std::string::npos) << lock->what;
  bool balancing = false, mirror = false;
  for (const auto& i : p.items) {
    balancing |= i.level == Item::advice && i.what.find("kernel.numa_balancing=1") != std::string::npos;
    mirror |= i.level == Item::advice && i.code == "NT015" && i.fix.find("--strategy mirror") != std::string::npos;
  }
  EXPECT_TRUE(balancing);
  EXPECT_TRUE(mirror);
  o.privileged = true;  // CAP_IPC_LOCK: the limit does not apply, and check says it cannot know the user's
  EXPECT_TRUE(check_plan(model_of(64 * kMiB), m, {}, o).fits());
}

TEST(Plan, SplitsCachedOnOneNodeAdviseBindingThere) {
  Tree t;
  two_node_machine(t);
  const Machine m = read_machine(t.roots());
  CachePlacement c;
  c.pages = c.resident = c.sampled = 100;
  c.per_node = {0, 100};
  const Plan p = check_plan(model_of(8 * kMiB), m, {c, c}, PlanOptions{});
  EXPECT_TRUE(p.fits());
  const Item* i = find(p, Item::advice, 1);
  ASSERT_NE(i, nullptr);
  EXPECT_EQ(i->code, "NT015");
  EXPECT_NE(i->what.find("100% of those on node 1"), std::string::npos) << i->what;
  EXPECT_NE(i->fix.find("numactl --cpunodebind=1 --membind=1"), std::string::npos) << i->fix;
}

TEST(Plan, OnOneNodeItSaysWhatItCannotKnow) {
  Tree t;
  t.node(0, "0-1", 900, 0, 0, 0);
  PlanOptions o;
  o.strategy = Strategy::mirror;
  const Plan p = check_plan(model_of(8 * kMiB), read_machine(t.roots()), {}, o);
  EXPECT_TRUE(p.fits());
  bool one = false;
  for (const auto& u : p.unknown) one |= u.find("this machine has one node") != std::string::npos;
  EXPECT_TRUE(one);
}

TEST(PageCache, AFileJustWrittenIsResidentAndItsPagesHaveANode) {
  char path[] = "/tmp/nt-cache-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  std::string data(size_t{64} * 4096, 'x');
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
  const CachePlacement c = page_cache_placement(path, 16);
  unlink(path);
  EXPECT_TRUE(c.error.empty()) << c.error;
  EXPECT_EQ(c.pages, 64u);
  EXPECT_GT(c.resident, 0u);
  EXPECT_EQ(c.sampled, std::min<uint64_t>(c.resident, 16));
  uint64_t sum = 0;
  for (uint64_t n : c.per_node) sum += n;
  EXPECT_EQ(sum, c.sampled);
  EXPECT_FALSE(page_cache_placement("/nonexistent/file").error.empty());
}
