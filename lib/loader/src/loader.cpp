// The reference loader. Structure follows llama.cpp's llama_model_loader:
// open the splits, init_mappings (per strategy), load_all_data (resolve
// every tensor through a mapping slot, on a pool of threads), release the
// unused head and tail of each mapping, keep the mappings until exit.
// Every place the real loader touches a slot calls a numa-trace hook.
#include "numatrace/loader/loader.h"
#include "numatrace/text.h"

#include <fcntl.h>
#include <numa.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>

#include "llama_types.h"
#include "numatrace/gguf/model.h"
#include "numatrace/gguf/synth.h"
#include "numatrace/hooks.h"

namespace numatrace::loader {

namespace {

constexpr uint64_t kFixedBase = 0x200000000000ull;  // + node * kFixedBase (the mirror work's choice)
constexpr long kHugetlbfsMagic = 0x958458f6;
constexpr size_t kChunk = 1 << 20;  // files are read in 1 MiB chunks, as upstream

size_t page_size() {
  return static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

struct Failure {
  int code;
  std::string message;
};

[[noreturn]] void fail(int code, const std::string& message) {
  throw Failure{code, message};
}

void read_file_into(llama_file& f, unsigned char* dst) {
  int fd = f.fileno();
  for (size_t off = 0; off < f.size(); off += kChunk) {
    size_t n = std::min(kChunk, f.size() - off);
    ssize_t r = pread(fd, dst + off, n, static_cast<off_t>(off));
    if (r != static_cast<ssize_t>(n))
      fail(2, f.path() + ": read failed at offset " + hex(off) + ": " + std::strerror(errno));
  }
}

}  // namespace

// ----------------------------------------------------------- upstream types

}  // namespace numatrace::loader

void llama_mmap::unmap_fragment(size_t first, size_t last) {
  // As upstream: round inward to whole pages, munmap, trim the fragment list.
  const size_t page = numatrace::loader::page_size();
  first = (first + page - 1) & ~(page - 1);
  last &= ~(page - 1);
  if (last <= first) return;
  auto* base = static_cast<unsigned char*>(pimpl->addr);
  NUMATRACE_UNMAP_FRAGMENT(slot, base + first, last - first);
  if (munmap(base + first, last - first) != 0)
    std::fprintf(stderr, "numa-trace-loader: warning: munmap of %zu bytes at +%zu failed: %s\n", last - first, first,
                 std::strerror(errno));
  std::vector<std::pair<size_t, size_t>> next;
  for (const auto& frag : pimpl->mapped_fragments) {
    if (frag.first < first && frag.second > last) {
      next.emplace_back(frag.first, first);
      next.emplace_back(last, frag.second);
    } else if (frag.first < first && frag.second > first) {
      next.emplace_back(frag.first, first);
    } else if (frag.first < last && frag.second > last) {
      next.emplace_back(last, frag.second);
    } else if (frag.first >= first && frag.second <= last) {
      // entirely released
    } else {
      next.push_back(frag);
    }
  }
  pimpl->mapped_fragments = std::move(next);
}

llama_mmap::~llama_mmap() {
  if (!pimpl || leak) return;
  switch (backing) {
    case backing_kind::file:
      NUMATRACE_MAPPING_DESTROY(slot, pimpl->addr);
      for (const auto& frag : pimpl->mapped_fragments)
        munmap(static_cast<unsigned char*>(pimpl->addr) + frag.first, frag.second - frag.first);
      break;
    case backing_kind::anonymous:
    case backing_kind::hugetlbfs:
      for (void* r : replicas) {
        NUMATRACE_MAPPING_DESTROY(slot, r);
        munmap(r, mapped_size);
      }
      for (const auto& f : hugepage_files) unlink(f.c_str());
      break;
    case backing_kind::numa:
      for (void* r : replicas) {
        NUMATRACE_MAPPING_DESTROY(slot, r);
        numa_free(r, mapped_size);
      }
      break;
  }
}

void llama_mlock::grow_to(size_t target_size) {
  if (pimpl->failed_already || target_size <= pimpl->size) return;
  const size_t page = numatrace::loader::page_size();
  target_size = (target_size + page - 1) & ~(page - 1);
  if (mlock(static_cast<unsigned char*>(pimpl->addr) + pimpl->size, target_size - pimpl->size) != 0) {
    std::fprintf(stderr, "numa-trace-loader: warning: mlock failed (%s); continuing without it\n",
                 std::strerror(errno));
    pimpl->failed_already = true;
    return;
  }
  pimpl->size = target_size;
}

llama_mlock::~llama_mlock() {
  if (pimpl && pimpl->size) munlock(pimpl->addr, pimpl->size);
}

namespace numatrace::loader {

namespace {

// --------------------------------------------------------------- the loader

class Loader {
 public:
  Loader(const Options& o) : o_(o) {}

  int run();

 private:
  void open_model();
  void init_mappings();
  void init_per_file();
  void init_unified(int n_nodes);
  void* map_region(int node, size_t& mapped, bool& fresh, std::string& hugepage_file);
  void load_all_data();
  void resolve(const llama_model_loader::llama_tensor_weight& w, int node);
  void release_unused();
  bool is_unified() const;
  bool all_same_object() const;

  const Options& o_;
  llama_model_loader ml_;
  gguf::Model model_;
  uint64_t seed_ = 0;
  bool have_seed_ = false;
  size_t total_ = 0;                      // bytes of a unified region
  size_t reach_ = 0;                      // bytes either layout can address
  std::vector<size_t> packed_, aligned_;  // per-file offsets in a unified region
  int n_nodes_ = 1;
  std::atomic<uint64_t> bytes_{0}, checksum_{0}, bad_tensors_{0};
  std::mutex report_mutex_, mlock_mutex_;
  std::vector<std::pair<size_t, size_t>> used_;  // per slot: lowest and highest byte resolved
};

void Loader::open_model() {
  auto m = gguf::open_model(o_.model);
  if (!m) fail(2, m.error().str());
  model_ = std::move(m.value());
  if (!model_.valid()) fail(2, model_.problems.front().str() + " (see numa-trace inspect)");
  if (const auto* s = model_.files[0].find(gguf::kKeySeed)) {
    seed_ = static_cast<uint64_t>(std::get<uint64_t>(s->data));
    have_seed_ = true;
  }
  if (o_.verify && !have_seed_)
    fail(2, "--verify needs a model written by `numa-trace gen-model` (no numa_trace.seed key)");

  NUMATRACE_MODEL_BEGIN(model_.files[0].path.c_str(), static_cast<uint32_t>(model_.files.size()));
  for (size_t i = 0; i < model_.files.size(); ++i) {
    auto f = std::make_unique<llama_file>();
    f->pimpl = std::make_unique<llama_file::impl>();
    f->pimpl->fname = model_.files[i].path;
    f->pimpl->fp = std::fopen(model_.files[i].path.c_str(), "rbe");
    if (!f->pimpl->fp) fail(2, model_.files[i].path + ": " + std::strerror(errno));
    f->pimpl->size = model_.files[i].file_size;
    NUMATRACE_FILE_OPEN(static_cast<uint32_t>(i), f->path().c_str(), f->size());
    ml_.files.push_back(std::move(f));
  }
  const auto refs = model_.tensors();
  ml_.tensors.resize(refs.size());
  for (size_t k = 0; k < refs.size(); ++k) {
    ggml_tensor& t = ml_.tensors[k];
    std::memset(&t, 0, sizeof t);
    t.type = static_cast<int32_t>(refs[k].info->type);
    for (int d = 0; d < 4; ++d) t.ne[d] = refs[k].info->ne[static_cast<size_t>(d)];
    t.nbytes = refs[k].info->size;
    std::snprintf(t.name, sizeof t.name, "%s", refs[k].info->name.c_str());
    ml_.weights_map[refs[k].info->name] = {refs[k].file_idx, refs[k].abs_offset, &t};
    ml_.n_bytes += t.nbytes;
  }
  ml_.n_tensors = static_cast<int>(refs.size());
  ml_.arch_name = "llama";

  // Both layouts of a unified region: packed (what the loader computes) and
  // page-aligned.
  size_t at_p = 0, at_a = 0;
  for (const auto& f : ml_.files) {
    packed_.push_back(at_p);
    at_a = (at_a + page_size() - 1) & ~(page_size() - 1);
    aligned_.push_back(at_a);
    at_p += f->size();
    at_a += f->size();
  }
  total_ = o_.page_aligned ? at_a : at_p;
  // The region is allocated for the larger layout: a loader computing with
  // the other one (offset-drift) reads wrong bytes of its own memory, as the
  // real bug does, instead of running off the region's end.
  reach_ = std::max(at_a, at_p);
}

void Loader::init_per_file() {
  for (size_t idx = 0; idx < ml_.files.size(); ++idx) {
    llama_file& f = *ml_.files[idx];
    int flags = MAP_SHARED | (o_.prefetch ? MAP_POPULATE : 0);
    void* addr = mmap(nullptr, f.size(), PROT_READ, flags, f.fileno(), 0);
    if (addr == MAP_FAILED) fail(2, f.path() + ": mmap failed: " + std::strerror(errno));
    posix_fadvise(f.fileno(), 0, 0, POSIX_FADV_SEQUENTIAL);
    if (o_.prefetch) posix_madvise(addr, f.size(), POSIX_MADV_WILLNEED);
    auto m = std::make_unique<llama_mmap>();
    m->pimpl = std::make_unique<llama_mmap::impl>();
    m->pimpl->addr = addr;
    m->pimpl->size = f.size();
    m->pimpl->mapped_fragments.emplace_back(0, f.size());
    m->slot = static_cast<int>(idx);
    m->backing = backing_kind::file;
    m->leak = o_.fault == Fault::leak;
    NUMATRACE_MAPPING_CREATE(static_cast<int32_t>(idx), NUMATRACE_KIND_PER_FILE, addr, f.size(), -1,
                             o_.prefetch ? NUMATRACE_MAP_POPULATE : 0, nullptr, nullptr, 0);
    ml_.mappings.push_back(std::move(m));
  }
}

// One region of total_ bytes for `node`: a hugetlbfs file or anonymous (or
// numa_alloc_onnode in mirror mode). `fresh` is false when a hugepage file
// existed already (the upstream is_new_mem).
void* Loader::map_region(int node, size_t& mapped, bool& fresh, std::string& hugepage_file) {
  void* want =
      o_.fixed_address ? reinterpret_cast<void*>(kFixedBase + static_cast<uint64_t>(node) * kFixedBase) : nullptr;
  fresh = true;
  if (!o_.hugetlbfs.empty()) {
    struct statfs sfs {};
    if (statfs(o_.hugetlbfs.c_str(), &sfs) != 0 || sfs.f_type != kHugetlbfsMagic)
      fail(2, o_.hugetlbfs + " is not a hugetlbfs mount (mount -t hugetlbfs none DIR)");
    const size_t huge = static_cast<size_t>(sfs.f_bsize);
    mapped = (reach_ + huge - 1) / huge * huge;
    hugepage_file = o_.hugetlbfs + "/llama-unified-node" + std::to_string(node) + "-0";
    if (o_.fault == Fault::stale_copy && access(hugepage_file.c_str(), F_OK) != 0) {
      // What a crashed earlier run leaves behind: the file, full of old bytes.
      int fd = open(hugepage_file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
      if (fd < 0 || ftruncate(fd, static_cast<off_t>(mapped)) != 0)
        fail(2, hugepage_file + ": " + std::strerror(errno));
      void* p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_HUGETLB, fd, 0);
      if (p == MAP_FAILED) fail(2, hugepage_file + ": mmap failed: " + std::strerror(errno));
      std::memset(p, 0xa5, mapped);
      munmap(p, mapped);
      close(fd);
    }
    struct stat st {};
    fresh = stat(hugepage_file.c_str(), &st) != 0 || st.st_size == 0;
    int fd = open(hugepage_file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) fail(2, hugepage_file + ": " + std::strerror(errno));
    if (fresh || o_.fault != Fault::stale_copy) {
      fresh = true;  // the corrected loader always copies
      if (ftruncate(fd, static_cast<off_t>(mapped)) != 0)
        fail(2, hugepage_file + ": ftruncate: " + std::strerror(errno));
    }
    if (n_nodes_ > 1) numa_set_preferred(o_.fault == Fault::misbind ? 0 : node);
    void* p = mmap(want, mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_HUGETLB | MAP_POPULATE, fd, 0);
    int err = errno;
    if (n_nodes_ > 1) numa_set_localalloc();
    close(fd);
    if (p == MAP_FAILED)
      fail(2, hugepage_file + ": mmap of " + std::to_string(mapped) + " bytes of hugepages failed: " +
                  std::strerror(err) + " (not enough free hugepages? see /proc/meminfo HugePages_Free)");
    return p;
  }
  mapped = (reach_ + page_size() - 1) & ~(page_size() - 1);
  if (o_.strategy == Strategy::mirror && n_nodes_ > 1 && !want) {
    void* p = numa_alloc_onnode(mapped, o_.fault == Fault::misbind ? 0 : node);
    if (!p) fail(2, "numa_alloc_onnode(" + std::to_string(mapped) + ", " + std::to_string(node) + ") failed");
    return p;
  }
  void* p = mmap(want, mapped, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
  if (p == MAP_FAILED)
    fail(2, "mmap of " + std::to_string(mapped) + " anonymous bytes failed: " + std::strerror(errno));
  if (o_.strategy == Strategy::mirror && n_nodes_ > 1)
    numa_tonode_memory(p, mapped, o_.fault == Fault::misbind ? 0 : node);
  return p;
}

void Loader::init_unified(int n_nodes) {
  std::vector<numatrace_extent> ext;
  const auto& offsets = o_.page_aligned ? aligned_ : packed_;
  for (size_t i = 0; i < ml_.files.size(); ++i)
    ext.push_back({static_cast<uint32_t>(i), offsets[i], ml_.files[i]->size()});
  ml_.extent_offset = offsets;

  if (o_.fault == Fault::fixed_collision) {
    // Something else already sits at the fixed address.
    void* squat = mmap(reinterpret_cast<void*>(kFixedBase), page_size(), PROT_READ,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (squat == MAP_FAILED) fail(2, "could not place the colliding mapping: " + std::string(std::strerror(errno)));
  }

  auto m = std::make_unique<llama_mmap>();
  m->pimpl = std::make_unique<llama_mmap::impl>();
  m->slot = 0;
  m->leak = o_.fault == Fault::leak;
  m->backing = !o_.hugetlbfs.empty()                                                   ? backing_kind::hugetlbfs
               : (o_.strategy == Strategy::mirror && n_nodes > 1 && !o_.fixed_address) ? backing_kind::numa
                                                                                       : backing_kind::anonymous;
  for (int node = 0; node < n_nodes; ++node) {
    size_t mapped = 0;
    bool fresh = true;
    std::string hp;
    auto* region = static_cast<unsigned char*>(map_region(node, mapped, fresh, hp));
    m->mapped_size = mapped;
    m->replicas.push_back(region);
    if (!hp.empty()) m->hugepage_files.push_back(hp);
    void* want =
        o_.fixed_address ? reinterpret_cast<void*>(kFixedBase + static_cast<uint64_t>(node) * kFixedBase) : nullptr;
    if (fresh) {
      if (node == 0) {
        for (size_t i = 0; i < ml_.files.size(); ++i) {
          if (o_.fault == Fault::stale_copy && o_.hugetlbfs.empty() && i + 1 == ml_.files.size()) {
            std::memset(region + offsets[i], 0xa5, ml_.files[i]->size());  // stale bytes, never refreshed
            continue;
          }
          read_file_into(*ml_.files[i], region + offsets[i]);
        }
      } else {
        std::memcpy(region, m->replicas[0], total_);  // node 0's copy to the other nodes
      }
    }
    // (Unread in the build without hooks, where the call below is compiled out.)
    // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores)
    uint32_t flags = (m->backing == backing_kind::hugetlbfs ? NUMATRACE_MAP_HUGETLB | NUMATRACE_MAP_POPULATE : 0) |
                     (m->backing != backing_kind::hugetlbfs ? NUMATRACE_MAP_ANON : 0) |
                     (want ? NUMATRACE_MAP_FIXED : 0);
    NUMATRACE_MAPPING_CREATE(0, o_.strategy == Strategy::mirror ? NUMATRACE_KIND_REPLICA : NUMATRACE_KIND_UNIFIED,
                             region, total_, o_.strategy == Strategy::mirror ? node : -1, flags, want, ext.data(),
                             static_cast<uint32_t>(ext.size()));
    if (want && region != want) {
      // As upstream: a fixed address the kernel did not honour is fatal.
      m->pimpl->addr = region;
      m->pimpl->size = total_;
      ml_.mappings.push_back(std::move(m));
      fail(1, "the unified mapping for node " + std::to_string(node) + " was asked at " +
                  hex(reinterpret_cast<uint64_t>(want)) + " but landed at " + hex(reinterpret_cast<uint64_t>(region)));
    }
  }
  m->pimpl->addr = m->replicas[0];
  m->pimpl->size = total_;
  m->pimpl->mapped_fragments.emplace_back(0, total_);
  ml_.mappings.push_back(std::move(m));
  // Unified mode: the region is in slot 0, slots 1..N-1 stay empty.
  for (size_t i = 1; i < ml_.files.size(); ++i) ml_.mappings.emplace_back(nullptr);
}

void Loader::init_mappings() {
  if (o_.strategy == Strategy::per_file) {
    init_per_file();
  } else {
    n_nodes_ = 1;
    if (o_.strategy == Strategy::mirror && numa_available() >= 0) n_nodes_ = numa_num_configured_nodes();
    if ((o_.fault == Fault::wrong_replica || o_.fault == Fault::misbind) && n_nodes_ < 2)
      fail(2, std::string("--fault ") + fault_name(o_.fault) + " needs at least 2 NUMA nodes; this machine has " +
                  std::to_string(n_nodes_) + " (the 2-node VM test runs it)");
    init_unified(o_.strategy == Strategy::mirror ? n_nodes_ : 1);
  }
  if (o_.mlock) {
    // mlock slots parallel the mapping slots, null where the mapping is.
    for (const auto& m : ml_.mappings) {
      if (!m) {
        ml_.mlocks.emplace_back(nullptr);
        continue;
      }
      auto l = std::make_unique<llama_mlock>();
      l->pimpl = std::make_unique<llama_mlock::impl>();
      l->slot = m->slot;
      l->init(m->addr());
      ml_.mlocks.push_back(std::move(l));
    }
  }
  NUMATRACE_UNIFIED_TEST(o_.fault == Fault::same_object ? all_same_object() : is_unified());
}

// Upstream's test: the region in slot 0 and nothing in slot 1.
bool Loader::is_unified() const {
  return ml_.mappings.size() > 1 && ml_.mappings[0] && !ml_.mappings[1];
}

// The helper of failure mode 4: "are all mappings the same object?" Null
// slots make it false, and the caller falls through to mappings.at(idx).
bool Loader::all_same_object() const {
  for (const auto& m : ml_.mappings)
    if (m.get() != ml_.mappings[0].get()) return false;
  return true;
}

void Loader::resolve(const llama_model_loader::llama_tensor_weight& w, int node) {
  const size_t n = w.tensor->nbytes;
  const bool unified = o_.strategy != Strategy::per_file;
  // Which slot the loader dereferences. The faults are the real loader's bugs.
  bool through_idx = !unified || o_.fault == Fault::null_slot || o_.fault == Fault::same_object;
  const int slot = through_idx ? w.idx : 0;
  const auto& mapping = ml_.mappings.at(static_cast<size_t>(slot));
  const unsigned char* base = nullptr;
  size_t offset_in_region = w.offs;
  if (mapping) {
    base = static_cast<const unsigned char*>(mapping->addr());
    if (unified) {
      int replica = o_.strategy == Strategy::mirror ? node : 0;
      if (o_.fault == Fault::wrong_replica) replica = (node + 1) % static_cast<int>(mapping->replicas.size());
      base = static_cast<const unsigned char*>(mapping->replicas[static_cast<size_t>(replica)]);
      // The loader's own computation: the packed sum of the sizes before the
      // file, unless it knows the region is page-aligned. offset_drift
      // computes with the other layout than the one the region was built with.
      bool use_aligned = o_.page_aligned != (o_.fault == Fault::offset_drift);
      offset_in_region += (use_aligned ? aligned_ : packed_)[w.idx];
    }
  }
  NUMATRACE_RESOLVE(slot, w.idx, w.offs, n, mapping ? base + offset_in_region : nullptr, w.tensor->name);
  // The dereference: with a null slot, llama_mmap::addr() reads pimpl
  // through this == nullptr and the process dies here, as upstream does.
  const unsigned char* data = static_cast<const unsigned char*>(mapping->addr());
  asm volatile("" : "+r"(data));  // keep the load: it is the crash being reproduced
  data = (unified ? base : data) + offset_in_region;

  if (o_.mlock) {
    const int lslot = o_.fault == Fault::mlock_null_slot ? w.idx : slot;
    auto& lmlock = ml_.mlocks.at(static_cast<size_t>(lslot));
    std::lock_guard<std::mutex> lock(mlock_mutex_);  // grow_to is not thread-safe (upstream grows on one thread)
    NUMATRACE_MLOCK_GROW(lslot, lmlock ? lmlock->pimpl->addr : nullptr, offset_in_region + n);
    lmlock->grow_to(offset_in_region + n);  // null mlock slot: crashes here
  }

  uint64_t sum = 0;
  if (o_.copy) {
    std::vector<unsigned char> buf(data, data + n);
    for (size_t i = 0; i < n; i += 4096) sum += buf[i];
  } else {
    for (size_t i = 0; i < n; i += 4096) sum += data[i];
  }
  checksum_ += sum;
  bytes_ += n;
  {
    std::lock_guard<std::mutex> lock(report_mutex_);
    auto& u = used_[static_cast<size_t>(slot)];
    u.first = std::min(u.first, offset_in_region);
    u.second = std::max(u.second, offset_in_region + n);
  }
  if (o_.verify) {
    auto bad = gguf::verify_tensor_bytes(w.tensor->name, static_cast<gguf::GgmlType>(w.tensor->type), seed_, 0,
                                         {reinterpret_cast<const std::byte*>(data), n});
    if (bad) {
      bad_tensors_++;
      std::lock_guard<std::mutex> lock(report_mutex_);
      std::fprintf(stderr,
                   "numa-trace-loader: verify: tensor '%s' (file %u, offset %s) read through slot %d differs from the "
                   "generated contents at byte %llu\n",
                   w.tensor->name, w.idx, hex(w.offs).c_str(), slot, static_cast<unsigned long long>(*bad));
    }
  }
}

void Loader::load_all_data() {
  std::vector<const llama_model_loader::llama_tensor_weight*> order;
  for (const auto& [name, w] : ml_.weights_map) order.push_back(&w);
  // In file order, as the tensors are laid out.
  std::sort(order.begin(), order.end(),
            [](auto* a, auto* b) { return a->idx != b->idx ? a->idx < b->idx : a->offs < b->offs; });
  used_.assign(ml_.mappings.size(), {SIZE_MAX, 0});
  std::atomic<size_t> next{0};
  const unsigned n_threads = std::max(1u, o_.threads);
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < n_threads; ++t) {
    pool.emplace_back([&, t] {
      // Threads are spread over the nodes; each reads its own node's replica.
      int node = static_cast<int>(t % static_cast<unsigned>(n_nodes_));
      if (o_.strategy == Strategy::mirror && n_nodes_ > 1) numa_run_on_node(node);
      for (size_t k; (k = next.fetch_add(1)) < order.size();) {
        if (o_.fault == Fault::worker_crash && k == order.size() / 2) {
          // A bug unrelated to the mappings, in a worker thread.
          volatile int* null = nullptr;
          *null = static_cast<int>(k);  // NOLINT(clang-analyzer-core.NullDereference): the fault asked for
        }
        resolve(*order[k], node);
      }
    });
  }
  for (auto& t : pool) t.join();
}

// The unused head and tail of each mapping go back to the system, as
// upstream does for per-file mappings. partial_unmap is the mirror work's
// bug: the per-file ranges (offsets within file 0) are applied to the
// unified region in slot 0, so everything after file 0's data is unmapped.
void Loader::release_unused() {
  for (size_t s = 0; s < ml_.mappings.size(); ++s) {
    auto& m = ml_.mappings[s];
    if (!m) continue;
    if (m->backing == backing_kind::file) {
      size_t lo = used_[s].first == SIZE_MAX ? 0 : used_[s].first, hi = used_[s].second;
      m->unmap_fragment(0, lo);
      m->unmap_fragment(hi, m->size());
    } else if (o_.fault == Fault::partial_unmap) {
      size_t end0 = 0;  // end of file 0's last tensor, relative to file 0
      for (const auto& [name, w] : ml_.weights_map)
        if (w.idx == 0) end0 = std::max(end0, w.offs + w.tensor->nbytes);
      m->unmap_fragment(end0, m->size());
      // Later, inference reads a tensor of the last file: the region is gone.
      const auto* last = &ml_.weights_map.begin()->second;
      for (const auto& [name, w] : ml_.weights_map)
        if (w.idx > last->idx || (w.idx == last->idx && w.offs > last->offs)) last = &w;
      const auto* p = static_cast<const volatile unsigned char*>(m->addr()) + packed_[last->idx] + last->offs;
      checksum_ += *p;
    }
  }
}

int Loader::run() {
  auto t0 = std::chrono::steady_clock::now();
  open_model();
  init_mappings();
  load_all_data();
  release_unused();
  NUMATRACE_MODEL_END();
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  if (!o_.quiet)
    std::printf(
        "loaded %d tensors (%llu bytes) from %zu files with the %s strategy%s in %.1f ms, %u thread%s, %d node%s; "
        "checksum %llu%s\n",
        ml_.n_tensors, static_cast<unsigned long long>(bytes_.load()), ml_.files.size(), strategy_name(o_.strategy),
        o_.fault == Fault::none ? "" : (std::string(" (fault: ") + fault_name(o_.fault) + ")").c_str(), ms, o_.threads,
        o_.threads == 1 ? "" : "s", n_nodes_, n_nodes_ == 1 ? "" : "s",
        static_cast<unsigned long long>(checksum_.load()),
        o_.verify ? (bad_tensors_ ? "; VERIFY FAILED" : "; every byte verified") : "");
  if (o_.hold) {
    // The model stays loaded for an observer (numa-trace placement PID,
    // gdb -p) until SIGINT or SIGTERM; then it is freed as usual.
    sigset_t wait_for;
    sigemptyset(&wait_for);
    sigaddset(&wait_for, SIGINT);
    sigaddset(&wait_for, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &wait_for, nullptr);
    std::printf("ready\n");
    std::fflush(stdout);
    int sig = 0;
    sigwait(&wait_for, &sig);
  }
  if (bad_tensors_) {
    std::fprintf(stderr, "numa-trace-loader: %llu tensors read wrong bytes\n",
                 static_cast<unsigned long long>(bad_tensors_.load()));
    return 1;
  }
  return 0;
}

}  // namespace

namespace {
struct FaultName {
  Fault fault;
  const char* name;
};
constexpr FaultName kFaults[] = {
    {Fault::none, "none"},
    {Fault::null_slot, "null-slot"},
    {Fault::offset_drift, "offset-drift"},
    {Fault::mlock_null_slot, "mlock-null-slot"},
    {Fault::same_object, "same-object"},
    {Fault::partial_unmap, "partial-unmap"},
    {Fault::stale_copy, "stale-copy"},
    {Fault::fixed_collision, "fixed-collision"},
    {Fault::wrong_replica, "wrong-replica"},
    {Fault::misbind, "misbind"},
    {Fault::leak, "leak"},
    {Fault::worker_crash, "worker-crash"},
};
}  // namespace

bool parse_fault(std::string_view s, Fault& out) {
  for (const auto& f : kFaults)
    if (s == f.name) {
      out = f.fault;
      return true;
    }
  return false;
}

const char* fault_name(Fault f) {
  for (const auto& k : kFaults)
    if (k.fault == f) return k.name;
  return "?";
}

int run(const Options& options) {
  Options o = options;
  if (o.fault == Fault::fixed_collision) o.fixed_address = true;
  if (o.fault == Fault::mlock_null_slot) o.mlock = true;
  if (o.fault == Fault::offset_drift && o.strategy == Strategy::per_file) o.strategy = Strategy::unified;
  try {
    Loader l(o);
    return l.run();
  } catch (const Failure& f) {
    std::fprintf(stderr, "numa-trace-loader: %s\n", f.message.c_str());
    return f.code;
  }
}

}  // namespace numatrace::loader
