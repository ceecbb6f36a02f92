// libnumatrace-preload.so: the interposer for programs that were not patched
// with numatrace/hooks.h. Preloaded (numa-trace run does it), it watches
// open/openat/fopen/close/dup/fcntl to learn which descriptors are GGUF splits
// (by magic and split name) or hugetlbfs files, turns their MAP_SHARED mmaps
// and their munmaps into create / unmap / destroy events for libnumatrace, and
// where the program exports ggml_backend_tensor_alloc / ggml_backend_tensor_set
// (llama.cpp built with shared libraries), turns those into resolves.
//
// The in-process rules of recorder.cpp apply. Here in particular: every
// wrapper calls the real function first and only then looks; a descriptor
// or mapping that is not a model file costs one branch (mmap with fd < 0) or
// a table lookup; nothing here allocates; a program with AT_SECURE (setuid,
// setgid, capabilities) is passed through untouched. A program patched with
// the hooks (it calls NUMATRACE_MODEL_BEGIN before mapping) is left to its
// hooks: the interposer then records nothing, so nothing is counted twice.
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "numatrace/gguf/split_name.h"
#include "numatrace/recorder.h"

// libnumatrace's interposer API (numatrace/recorder.h), weak like the hooks:
// the interposer works whatever the load order, and does nothing without it.
extern "C" {
extern void numatrace_interposed_model_begin(const char* path, uint32_t n_files) __attribute__((weak));
extern int numatrace_hooks_active(void) __attribute__((weak));
}

namespace {

constexpr long kHugetlbfsMagic = 0x958458f6;
constexpr int kMaxFds = 4096;
constexpr int kMaxMappings = 128;

enum FdKind : uint8_t { kNone = 0, kGguf = 1, kHugetlbfs = 2 };

struct FdInfo {
  std::atomic<uint8_t> kind;
  int32_t file_idx;  // GGUF: from the split name, else split order
  int32_t node;      // hugetlbfs: from "node<N>" in the name, else -1
  uint32_t split_count;
  uint64_t size;
  char path[256];
};

struct Mapping {
  uint64_t base, length, remaining;
  int32_t slot;
  bool used;
};

// constinit: zero in .bss from the start. Without it gcc initializes the
// arrays of atomics at load, touching their 1.1 MiB in every process the
// interposer is preloaded into.
constinit FdInfo g_fds[kMaxFds]{};
constinit Mapping g_maps[kMaxMappings]{};
std::atomic_flag g_maps_lock = ATOMIC_FLAG_INIT;
std::atomic<int32_t> g_next_order{0};
bool g_secure = false;
std::atomic<bool> g_began{false};  // the interposer called model_begin itself
constexpr int kMaxFiles = 4096;
constinit std::atomic<bool> g_announced[kMaxFiles]{};  // file_open recorded for this file idx
__attribute__((tls_model("initial-exec"))) thread_local bool t_busy = false;

template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

using open_t = int (*)(const char*, int, ...);
using openat_t = int (*)(int, const char*, int, ...);
using fopen_t = FILE* (*)(const char*, const char*);
using close_t = int (*)(int);
using fclose_t = int (*)(FILE*);
using dup_t = int (*)(int);
using dup2_t = int (*)(int, int);
using dup3_t = int (*)(int, int, int);
using fcntl_t = int (*)(int, int, ...);
using mmap_t = void* (*)(void*, size_t, int, int, int, off_t);
using munmap_t = int (*)(void*, size_t);

// Each real function is looked up on first use (a wrapper can run before
// our constructor, while another library initializes).
#define REAL(type, name)                             \
  static type real_##name = nullptr;                 \
  if (!real_##name) real_##name = real<type>(#name); \
  (void)0

bool hooked_program() {
  // A patched loader calls NUMATRACE_MODEL_BEGIN before it maps anything
  // (and after it has read its splits' headers).
  return numatrace_hooks_active && numatrace_hooks_active();
}

bool ends_with(const char* s, const char* suffix) {
  size_t n = std::strlen(s), m = std::strlen(suffix);
  return n >= m && std::memcmp(s + n - m, suffix, m) == 0;
}

// "<prefix>-NNNNN-of-MMMMM.gguf": 0-based file idx and count, or -1.
int32_t split_number(const char* path, uint32_t& count) {
  uint32_t idx = 0;
  return numatrace::gguf::parse_split_suffix(path, std::strlen(path), idx, count) ? static_cast<int32_t>(idx) : -1;
}

int32_t node_in_name(const char* path) {
  const char* p = std::strstr(path, "node");
  if (!p || p[4] < '0' || p[4] > '9') return -1;
  return static_cast<int32_t>(std::strtol(p + 4, nullptr, 10));
}

// Saves errno on construction and puts it back on destruction: what a
// wrapper looks at after the real call must not change what the program
// sees of that call.
struct KeepErrno {
  int saved = errno;
  ~KeepErrno() { errno = saved; }
};

// Looks at a freshly opened descriptor: a GGUF split (by magic and name) or
// a file on hugetlbfs.
void classify(int fd, const char* path) {
  if (g_secure || fd < 0 || fd >= kMaxFds || !path || t_busy) return;
  KeepErrno keep;
  FdInfo& info = g_fds[fd];
  info.kind.store(kNone, std::memory_order_relaxed);
  const bool gguf_name = ends_with(path, ".gguf");
  if (!gguf_name && !std::strstr(path, "huge")) return;  // the cheap test every other open pays
  t_busy = true;
  struct statfs sfs {};
  uint8_t kind = kNone;
  if (gguf_name) {
    uint32_t magic = 0;
    if (pread(fd, &magic, sizeof magic, 0) == sizeof magic && magic == 0x46554747) kind = kGguf;
  } else if (fstatfs(fd, &sfs) == 0 && sfs.f_type == kHugetlbfsMagic) {
    kind = kHugetlbfs;
  }
  if (kind != kNone) {
    uint32_t count = 0;
    int32_t idx = split_number(path, count);
    if (kind == kGguf && idx < 0) idx = g_next_order.fetch_add(1);
    info.file_idx = idx;
    info.split_count = count;
    info.node = node_in_name(path);
    // fstat and pread only: the program's file offset is its own (an lseek
    // here once left every split at its end, and llama.cpp's fread-based
    // loading then read nothing).
    struct stat st {};
    info.size = fstat(fd, &st) == 0 && st.st_size > 0 ? static_cast<uint64_t>(st.st_size) : 0;
    std::strncpy(info.path, path, sizeof info.path - 1);
    info.path[sizeof info.path - 1] = 0;
    info.kind.store(kind, std::memory_order_release);
  }
  t_busy = false;
}

void forget(int fd) {
  if (fd >= 0 && fd < kMaxFds) g_fds[fd].kind.store(kNone, std::memory_order_relaxed);
}

void copy_fd(int from, int to) {
  if (from < 0 || from >= kMaxFds || to < 0 || to >= kMaxFds) return;
  FdInfo& a = g_fds[from];
  FdInfo& b = g_fds[to];
  uint8_t kind = a.kind.load(std::memory_order_acquire);
  b.kind.store(kNone, std::memory_order_relaxed);
  if (kind == kNone) return;
  b.file_idx = a.file_idx;
  b.node = a.node;
  b.split_count = a.split_count;
  b.size = a.size;
  std::memcpy(b.path, a.path, sizeof b.path);
  b.kind.store(kind, std::memory_order_release);
}

void lock() {
  while (g_maps_lock.test_and_set(std::memory_order_acquire)) {
  }
}
void unlock() {
  g_maps_lock.clear(std::memory_order_release);
}

// The model begins with the first GGUF descriptor the program maps or
// reads (not at open: a patched loader opens and parses its splits before
// its own NUMATRACE_MODEL_BEGIN, and llama.cpp opens them once more to
// estimate memory); each split is announced once.
void announce(const FdInfo& info) {
  const bool gguf = info.kind.load(std::memory_order_relaxed) == kGguf;
  if (!g_began.exchange(true) && numatrace_interposed_model_begin) {
    // The model is named by its first split, whichever split came first.
    char first[sizeof info.path];
    std::memcpy(first, info.path, sizeof first);
    if (gguf && info.split_count > 0) {
      size_t n = std::strlen(first);
      // Five digits replaced in place; the name stays NUL-terminated. split_number() checked the shape.
      // NOLINTNEXTLINE(bugprone-not-null-terminated-result)
      std::memcpy(first + n - (numatrace::gguf::kSplitSuffix - 1), "00001", 5);
    }
    numatrace_interposed_model_begin(first, gguf ? info.split_count : 0);
  }
  if (gguf && info.file_idx >= 0 && info.file_idx < kMaxFiles && !g_announced[info.file_idx].exchange(true) &&
      numatrace_file_open)
    numatrace_file_open(static_cast<uint32_t>(info.file_idx), info.path, info.size);
}

// Reads shorter than this are the header's keys and tensor infos, not
// tensor data: they announce the split but are not recorded one by one.
constexpr uint64_t kMinRecordedRead = 512;

// A read of `length` bytes at `offset` of a GGUF descriptor into `dest`
// (llama.cpp without mmap reads the tensors into its own buffers).
// `offset` < 0: the descriptor's position after the read, minus length.
void on_read(int fd, int64_t offset, uint64_t length, const void* dest, FILE* stream = nullptr) {
  if (g_secure || t_busy || fd < 0 || fd >= kMaxFds) return;
  FdInfo& info = g_fds[fd];
  if (info.kind.load(std::memory_order_acquire) != kGguf || hooked_program()) return;
  KeepErrno keep;
  t_busy = true;
  announce(info);
  if (length >= kMinRecordedRead && numatrace_file_read && info.file_idx >= 0) {
    if (offset < 0) {  // the position is asked, never moved
      off_t end = stream ? ftello(stream) : lseek(fd, 0, SEEK_CUR);
      offset = end >= 0 ? end - static_cast<int64_t>(length) : -1;
    }
    if (offset >= 0)
      numatrace_file_read(static_cast<uint32_t>(info.file_idx), static_cast<uint64_t>(offset), length, dest);
  }
  t_busy = false;
}

// A mapping of part of a file (offset != 0) is recorded like a whole one,
// from its start address.
void on_mmap(void* addr, size_t length, int flags, int fd) {
  if (g_secure || t_busy || addr == MAP_FAILED || fd < 0 || fd >= kMaxFds || !(flags & MAP_SHARED)) return;
  FdInfo& info = g_fds[fd];
  uint8_t kind = info.kind.load(std::memory_order_acquire);
  if (kind == kNone || hooked_program()) return;
  KeepErrno keep;
  t_busy = true;
  int32_t slot = kind == kGguf ? info.file_idx : 0;
  announce(info);
  uint32_t fl = (flags & MAP_POPULATE ? NUMATRACE_MAP_POPULATE : 0u) | (flags & MAP_FIXED ? NUMATRACE_MAP_FIXED : 0u) |
                (kind == kHugetlbfs ? NUMATRACE_MAP_HUGETLB : 0u);
  if (numatrace_mapping_create)
    numatrace_mapping_create(slot, kind == kGguf ? NUMATRACE_KIND_PER_FILE : NUMATRACE_KIND_UNIFIED, addr, length,
                             kind == kGguf ? -1 : info.node, fl, (flags & MAP_FIXED) ? addr : nullptr, nullptr, 0);
  lock();
  for (auto& m : g_maps)
    if (!m.used) {
      m = {reinterpret_cast<uint64_t>(addr), length, length, slot, true};
      break;
    }
  unlock();
  t_busy = false;
}

void on_munmap(void* addr, size_t length) {
  if (g_secure || t_busy) return;
  KeepErrno keep;
  const uint64_t lo = reinterpret_cast<uint64_t>(addr), hi = lo + length;
  lock();
  for (auto& m : g_maps) {
    if (!m.used || hi <= m.base || lo >= m.base + m.length) continue;
    uint64_t a = lo > m.base ? lo : m.base, b = hi < m.base + m.length ? hi : m.base + m.length;
    m.remaining -= (b - a) <= m.remaining ? (b - a) : m.remaining;
    bool whole = a == m.base && b == m.base + m.length;
    bool gone = m.remaining == 0;
    int32_t slot = m.slot;
    uint64_t base = m.base;
    if (gone) m.used = false;
    unlock();
    t_busy = true;
    if (!whole && numatrace_unmap_fragment) numatrace_unmap_fragment(slot, reinterpret_cast<void*>(a), b - a);
    if (gone && numatrace_mapping_destroy) numatrace_mapping_destroy(slot, reinterpret_cast<void*>(base));
    t_busy = false;
    return;
  }
  unlock();
}

// The recorded mapping holding `addr`: its slot, and its file idx and the
// offset in the file for per-file mappings (-1 for regions whose file
// layout the interposer cannot see).
bool locate(uint64_t addr, int32_t& slot, int32_t& file, uint64_t& offset) {
  bool found = false;
  lock();
  for (const auto& m : g_maps)
    if (m.used && addr >= m.base && addr < m.base + m.length) {
      slot = m.slot;
      file = m.slot;
      offset = addr - m.base;
      found = true;
      break;
    }
  unlock();
  return found;
}

// The definition a wrapped ggml function would have bound to without us.
// dlsym(RTLD_NEXT) searches the global scope only; llama.cpp loaded with
// dlopen(RTLD_LOCAL) (node-llama-cpp's addon, Python bindings) keeps
// libggml-base in a local scope, so the caller's own scope is asked next.
void* next_definition(const char* name, void* self, void* caller) {
  void* p = dlsym(RTLD_NEXT, name);
  if (p && p != self) return p;
  Dl_info di{};
  if (caller && dladdr(caller, &di) && di.dli_fname && di.dli_fname[0]) {
    if (void* h = dlopen(di.dli_fname, RTLD_LAZY | RTLD_NOLOAD)) {
      p = dlsym(h, name);
      dlclose(h);
      if (p && p != self) return p;
    }
  }
  return nullptr;
}

// Records the resolve of a tensor whose data lies in a recorded mapping;
// true when it did (the caller then ends it with resolve_done()).
bool on_tensor(void* tensor, const void* data, uint64_t size_hint, void* caller) {
  if (g_secure || t_busy || !tensor || !data || hooked_program() || !numatrace_resolve) return false;
  int32_t slot, file;
  uint64_t offset;
  if (!locate(reinterpret_cast<uint64_t>(data), slot, file, offset)) return false;
  KeepErrno keep;
  t_busy = true;
  using name_t = const char* (*)(const void*);
  using nbytes_t = size_t (*)(const void*);
  // Looked up in the caller's scope, where its ggml is (see next_definition).
  // Atomics, not guarded statics: a guard needs libstdc++'s __cxa_guard_*,
  // and loading libstdc++ into every traced process costs more than all of
  // libnumatrace's own start.
  static std::atomic<name_t> s_get_name{nullptr};
  static std::atomic<nbytes_t> s_nbytes{nullptr};
  name_t get_name = s_get_name.load(std::memory_order_relaxed);
  if (!get_name) {
    get_name = reinterpret_cast<name_t>(next_definition("ggml_get_name", nullptr, caller));
    s_get_name.store(get_name, std::memory_order_relaxed);
  }
  nbytes_t nbytes = s_nbytes.load(std::memory_order_relaxed);
  if (!nbytes) {
    nbytes = reinterpret_cast<nbytes_t>(next_definition("ggml_nbytes", nullptr, caller));
    s_nbytes.store(nbytes, std::memory_order_relaxed);
  }
  uint64_t size = size_hint ? size_hint : nbytes ? nbytes(tensor) : 0;
  numatrace_resolve(slot, static_cast<uint32_t>(file), offset, size, data, get_name ? get_name(tensor) : "?");
  t_busy = false;
  return true;
}

void resolve_done() {
  if (numatrace_resolve_done) numatrace_resolve_done();
}

__attribute__((constructor)) void init() {
  g_secure = getauxval(AT_SECURE) != 0;
}

}  // namespace

#define NT_EXPORT extern "C" __attribute__((visibility("default")))

// Each pair (open/open64, ...) shares one body. The mode argument exists
// only with O_CREAT or O_TMPFILE.
#define NT_MODE_AFTER(last)            \
  mode_t mode = 0;                     \
  if (flags & (O_CREAT | O_TMPFILE)) { \
    va_list ap;                        \
    va_start(ap, last);                \
    mode = va_arg(ap, mode_t);         \
    va_end(ap);                        \
  }

#define NT_OPEN(name)                                    \
  NT_EXPORT int name(const char* path, int flags, ...) { \
    REAL(open_t, name);                                  \
    NT_MODE_AFTER(flags)                                 \
    int fd = real_##name(path, flags, mode);             \
    classify(fd, path);                                  \
    return fd;                                           \
  }

#define NT_OPENAT(name)                                             \
  NT_EXPORT int name(int dirfd, const char* path, int flags, ...) { \
    REAL(openat_t, name);                                           \
    NT_MODE_AFTER(flags)                                            \
    int fd = real_##name(dirfd, path, flags, mode);                 \
    classify(fd, path);                                             \
    return fd;                                                      \
  }

// fopen opens inside libc, past the PLT: it needs its own wrapper.
#define NT_FOPEN(name)                                       \
  NT_EXPORT FILE* name(const char* path, const char* mode) { \
    REAL(fopen_t, name);                                     \
    FILE* f = real_##name(path, mode);                       \
    if (f) classify(fileno(f), path);                        \
    return f;                                                \
  }

NT_OPEN(open)
NT_OPEN(open64)
NT_OPENAT(openat)
NT_OPENAT(openat64)
NT_FOPEN(fopen)
NT_FOPEN(fopen64)

NT_EXPORT int fclose(FILE* f) {
  REAL(fclose_t, fclose);
  if (f) forget(fileno(f));
  return real_fclose(f);
}

NT_EXPORT int close(int fd) {
  REAL(close_t, close);
  forget(fd);
  return real_close(fd);
}

NT_EXPORT int dup(int fd) {
  REAL(dup_t, dup);
  int r = real_dup(fd);
  copy_fd(fd, r);
  return r;
}

NT_EXPORT int dup2(int fd, int to) {
  REAL(dup2_t, dup2);
  int r = real_dup2(fd, to);
  if (r >= 0) copy_fd(fd, r);
  return r;
}

NT_EXPORT int dup3(int fd, int to, int flags) {
  REAL(dup3_t, dup3);
  int r = real_dup3(fd, to, flags);
  if (r >= 0) copy_fd(fd, r);
  return r;
}

#define NT_FCNTL(name)                                                        \
  NT_EXPORT int name(int fd, int cmd, ...) {                                  \
    REAL(fcntl_t, name);                                                      \
    va_list ap;                                                               \
    va_start(ap, cmd);                                                        \
    void* arg = va_arg(ap, void*);                                            \
    va_end(ap);                                                               \
    int r = real_##name(fd, cmd, arg);                                        \
    if (r >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)) copy_fd(fd, r); \
    return r;                                                                 \
  }

#define NT_MMAP(name)                                                                          \
  NT_EXPORT void* name(void* addr, size_t length, int prot, int flags, int fd, off_t offset) { \
    REAL(mmap_t, name);                                                                        \
    void* p = real_##name(addr, length, prot, flags, fd, offset);                              \
    if (fd >= 0) on_mmap(p, length, flags, fd);                                                \
    return p;                                                                                  \
  }

NT_FCNTL(fcntl)
NT_FCNTL(fcntl64)
NT_MMAP(mmap)
NT_MMAP(mmap64)

using fread_t = size_t (*)(void*, size_t, size_t, FILE*);
using read_t = ssize_t (*)(int, void*, size_t);
using pread_t = ssize_t (*)(int, void*, size_t, off_t);

NT_EXPORT size_t fread(void* ptr, size_t size, size_t n, FILE* f) {
  REAL(fread_t, fread);
  size_t r = real_fread(ptr, size, n, f);
  if (r > 0) on_read(fileno_unlocked(f), -1, r * size, ptr, f);
  return r;
}

NT_EXPORT ssize_t read(int fd, void* buf, size_t n) {
  REAL(read_t, read);
  ssize_t r = real_read(fd, buf, n);
  if (r > 0) on_read(fd, -1, static_cast<uint64_t>(r), buf);
  return r;
}

#define NT_PREAD(name)                                                \
  NT_EXPORT ssize_t name(int fd, void* buf, size_t n, off_t offset) { \
    REAL(pread_t, name);                                              \
    ssize_t r = real_##name(fd, buf, n, offset);                      \
    if (r > 0) on_read(fd, offset, static_cast<uint64_t>(r), buf);    \
    return r;                                                         \
  }
NT_PREAD(pread)
NT_PREAD(pread64)

NT_EXPORT int munmap(void* addr, size_t length) {
  REAL(munmap_t, munmap);
  // Recorded before the pages go: placement is sampled while they exist.
  on_munmap(addr, length);
  return real_munmap(addr, length);
}

// NOLINTBEGIN(bugprone-macro-parentheses): `type` is a type, not an expression
#define NEXT_DEFINITION(type, name)                                                                                    \
  static std::atomic<type> real_##name{nullptr};                                                                       \
  type next_##name = real_##name.load(std::memory_order_relaxed);                                                      \
  if (!next_##name) {                                                                                                  \
    KeepErrno keep_;                                                                                                   \
    next_##name = reinterpret_cast<type>(next_definition(#name, reinterpret_cast<void*>(&name),                        \
                                                         __builtin_extract_return_addr(__builtin_return_address(0)))); \
    real_##name.store(next_##name, std::memory_order_relaxed);                                                         \
  }                                                                                                                    \
  (void)0
// NOLINTEND(bugprone-macro-parentheses)

// ggml (shared-library builds of llama.cpp): a tensor placed in a buffer
// made from a mapping, or copied out of one. The resolve is recorded before
// the call and ended when it returns, so that a crash later in the load is
// not blamed on it.
NT_EXPORT int ggml_backend_tensor_alloc(void* buffer, void* tensor, void* addr) {
  using alloc_t = int (*)(void*, void*, void*);
  NEXT_DEFINITION(alloc_t, ggml_backend_tensor_alloc);
  bool traced = on_tensor(tensor, addr, 0, __builtin_return_address(0));
  int status = next_ggml_backend_tensor_alloc ? next_ggml_backend_tensor_alloc(buffer, tensor, addr)
                                              : 1;  // GGML_STATUS_FAILED: there is nothing to call
  if (traced) resolve_done();
  return status;
}

NT_EXPORT void ggml_backend_tensor_set(void* tensor, const void* data, size_t offset, size_t size) {
  using set_t = void (*)(void*, const void*, size_t, size_t);
  NEXT_DEFINITION(set_t, ggml_backend_tensor_set);
  bool traced = offset == 0 && on_tensor(tensor, data, size, __builtin_return_address(0));
  if (next_ggml_backend_tensor_set) next_ggml_backend_tensor_set(tensor, data, offset, size);
  if (traced) resolve_done();
}
