// libnumatrace in a real process: hooks, flight recorder, findings before a
// real SIGSEGV, strict mode, sinks and their failures, fork, threads,
// placement, data verification, crash chaining. Not built with sanitizers:
// the recorder never is, and these tests load it.
#include <cpuid.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "numatrace/recorder.h"
#include "numatrace/trace_format.h"

namespace {

nt_flight_recorder& fr() {
  return numatrace_flight_recorder;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/nt-rec-XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::system(("rm -rf '" + path_ + "'").c_str()); }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A "model" of n files with byte i of file f = (f * 31 + i) & 0xff.
struct Files {
  explicit Files(const TempDir& d, int n = 3) {
    for (int f = 0; f < n; ++f) {
      std::string p = d.file("m-0000" + std::to_string(f + 1) + "-of-0000" + std::to_string(n) + ".gguf");
      std::vector<unsigned char> b(static_cast<size_t>(0x3000 + f * 0x1100));
      for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>((f * 31 + i) & 0xff);
      std::ofstream(p, std::ios::binary)
          .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
      paths.push_back(p);
      sizes.push_back(b.size());
    }
  }
  std::vector<std::string> paths;
  std::vector<size_t> sizes;
};

// The unified layout: all files copied back to back into anonymous memory.
struct Unified {
  explicit Unified(const Files& f) {
    for (size_t i = 0; i < f.paths.size(); ++i) {
      ext.push_back({static_cast<uint32_t>(i), total, f.sizes[i]});
      total += f.sizes[i];
    }
    base =
        static_cast<unsigned char*>(mmap(nullptr, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < f.paths.size(); ++i) {
      int fd = open(f.paths[i].c_str(), O_RDONLY);
      EXPECT_EQ(pread(fd, base + ext[i].offset, f.sizes[i], 0), static_cast<ssize_t>(f.sizes[i]));
      close(fd);
    }
  }
  ~Unified() { munmap(base, total); }
  std::vector<numatrace_extent> ext;
  uint64_t total = 0;
  unsigned char* base = nullptr;
};

void begin(const Files& f) {
  numatrace_model_begin(f.paths[0].c_str(), static_cast<uint32_t>(f.paths.size()));
  for (size_t i = 0; i < f.paths.size(); ++i)
    numatrace_file_open(static_cast<uint32_t>(i), f.paths[i].c_str(), f.sizes[i]);
}

// A one-split model begun, its file mapped and recorded in slot 0.
unsigned char* begin_per_file(const Files& f) {
  begin(f);
  int fd = open(f.paths[0].c_str(), O_RDONLY);
  auto* p = static_cast<unsigned char*>(mmap(nullptr, f.sizes[0], PROT_READ, MAP_SHARED, fd, 0));
  close(fd);
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, p, f.sizes[0], -1, 0, nullptr, nullptr, 0);
  return p;
}

const nt_fr_event* last_of(uint16_t type) {
  for (uint64_t s = fr().head; s > 0 && s + NT_FR_RING > fr().head; --s) {
    const nt_fr_event& e = fr().ring[(s - 1) % NT_FR_RING];
    if (e.seq == s && e.type == type) return &e;
  }
  return nullptr;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(Recorder, LayoutIsStamped) {
  EXPECT_EQ(fr().magic, NT_FR_MAGIC);
  EXPECT_EQ(fr().version, NT_FR_VERSION);
  EXPECT_EQ(fr().size, sizeof(nt_flight_recorder));
  EXPECT_EQ(fr().pid, static_cast<uint32_t>(getpid()));
}

TEST(Recorder, HooksRecordEventsAndTheResolveInFlight) {
  TempDir d;
  Files f(d);
  begin(f);
  int fd = open(f.paths[1].c_str(), O_RDONLY);
  void* p = mmap(nullptr, f.sizes[1], PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  uint64_t before = fr().head;
  NUMATRACE_MAPPING_CREATE(1, NUMATRACE_KIND_PER_FILE, p, f.sizes[1], -1, 0, nullptr, nullptr, 0);
  NUMATRACE_RESOLVE(1, 1, 0x100, 64, static_cast<char*>(p) + 0x100, "blk.3.attn_v.weight");
  const nt_fr_event* r = last_of(NT_EV_RESOLVE);
  ASSERT_NE(r, nullptr);
  // The create took the next seq, the resolve the first of its thread's
  // new block, which head counts whole.
  EXPECT_EQ(r->seq, before + 2);
  EXPECT_GE(fr().head, r->seq);
  EXPECT_EQ(r->slot, 1);
  EXPECT_EQ(r->file_idx, 1);
  EXPECT_EQ(r->a, 0x100u);
  EXPECT_EQ(r->b, 64u);
  EXPECT_STREQ(r->name, "blk.3.attn_v.weight");
  // Every machine has a source of the CPU and node (CpuAndNodeOnEveryCpu
  // checks each source against the kernel).
  EXPECT_GE(r->cpu, 0);
  EXPECT_LT(r->cpu, static_cast<int>(sysconf(_SC_NPROCESSORS_CONF)));
  EXPECT_GE(r->node, 0);
  bool in_flight = false;
  for (const auto& t : fr().threads)
    if (t.tid == static_cast<uint32_t>(gettid()) && t.in_flight)
      in_flight = std::string(t.name) == "blk.3.attn_v.weight";
  EXPECT_TRUE(in_flight);
  // Model memory is kept out of core dumps.
  const nt_fr_mapping& m = fr().mappings[last_of(NT_EV_CREATE)->mapping];
  EXPECT_TRUE(m.flags & NT_MAP_DONTDUMP);
  NUMATRACE_MAPPING_DESTROY(1, p);
  EXPECT_EQ(m.state, NT_STATE_DESTROYED);
  munmap(p, f.sizes[1]);
}

// The node the kernel gives `cpu`, read the way the recorder does not
// (the node<N>/cpu<C> links).
int kernel_node_of(int cpu) {
  for (int n = 0; n < 1024; ++n) {
    std::string d = "/sys/devices/system/node/node" + std::to_string(n);
    if (access(d.c_str(), F_OK) != 0) continue;
    if (access((d + "/cpu" + std::to_string(cpu)).c_str(), F_OK) == 0) return n;
  }
  return -1;
}

// Run once per CPU source by ctest (recorder.cpu_source.*, with NUMA_TRACE
// asking for it and NT_EXPECT_CPU_SOURCE naming it): pinned to each CPU it
// may use in turn, the thread's resolve carries that CPU and its node.
// Machines without RDPID/RDTSCP (AMD EPYC guests, valgrind) depend on the
// rseq and getcpu sources, so both are checked on every machine. Asked for
// an instruction the CPU lacks, the recorder must not use it (SIGILL) but
// fall back to a source it has, which is then checked the same way.
TEST(Recorder, CpuAndNodeOnEveryCpu) {
  if (const char* want = getenv("NT_EXPECT_CPU_SOURCE")) {
    unsigned a = 0, b = 0, c = 0, d = 0;
    const bool lacks =
        (!std::strcmp(want, "rdtscp") && !(__get_cpuid(0x80000001, &a, &b, &c, &d) && (d & (1u << 27)))) ||
        (!std::strcmp(want, "rdpid") && !(__get_cpuid_count(7, 0, &a, &b, &c, &d) && (c & (1u << 22))));
    if (lacks)
      EXPECT_STRNE(numatrace_cpu_source(), want) << "this CPU has no " << want << ": another source must be used";
    else
      EXPECT_STREQ(numatrace_cpu_source(), want);
  }
  cpu_set_t allowed;
  ASSERT_EQ(sched_getaffinity(0, sizeof allowed, &allowed), 0);
  int checked = 0;
  std::thread t([&] {
    for (int c = 0; c < CPU_SETSIZE && checked < 64; ++c) {
      if (!CPU_ISSET(c, &allowed)) continue;
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      ASSERT_EQ(sched_setaffinity(0, sizeof one, &one), 0);
      NUMATRACE_RESOLVE(0, 0, 0, 1, nullptr, "cpu-probe");
      const nt_fr_event* r = last_of(NT_EV_RESOLVE);
      ASSERT_NE(r, nullptr);
      EXPECT_EQ(r->cpu, c) << numatrace_cpu_source();
      EXPECT_EQ(r->node, kernel_node_of(c)) << "cpu " << c << ", " << numatrace_cpu_source();
      ++checked;
    }
  });
  t.join();
  EXPECT_GT(checked, 0);
}

// The acceptance case: a real program resolves through an empty slot; the
// NT001 finding is printed before it dies of the real SIGSEGV.
TEST(Recorder, NullSlotPrintsNT001BeforeSIGSEGV) {
  TempDir d;
  Files f(d);
  EXPECT_EXIT(
      {
        begin(f);
        Unified u(f);
        struct LlamaMmap {
          unsigned char* addr;
        };
        std::vector<std::unique_ptr<LlamaMmap>> slots(3);  // the loader's null slots 1..2
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u.base, u.total, -1, NUMATRACE_MAP_ANON, nullptr,
                                 u.ext.data(), 3);
        NUMATRACE_RESOLVE(1, 1, 0x1a40, 32, nullptr, "blk.0.attn_k.weight");
        volatile unsigned char* data = slots[1]->addr;  // null unique_ptr: SIGSEGV reading 0x0
        volatile unsigned char c = data[0x1a40];
        (void)c;
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGSEGV),
      "NT001 resolve of 'blk.0.attn_k.weight' \\(file 1 of 3, offset 0x1a40\\) through slot 1, which is empty; the "
      "unified mapping covering files 0-2 is in slot 0 \\(file 1 at \\+0x3000\\): resolve through slot 0\n"
      "numa-trace: SIGSEGV at fault address 0x0 in thread [0-9]+ while resolving 'blk.0.attn_k.weight' \\(file 1 of 3, "
      "offset 0x1a40\\) through slot 1, which is empty");
}

TEST(Recorder, StrictModeStopsAtTheFindingBeforeTheCrash) {
  TempDir d;
  Files f(d);
  EXPECT_EXIT(
      {
        ASSERT_EQ(numatrace_configure("strict"), 0);
        begin(f);
        Unified u(f);
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u.base, u.total, -1, 0, nullptr, u.ext.data(), 3);
        NUMATRACE_RESOLVE(2, 2, 0x10, 8, nullptr, "output.weight");
        std::fprintf(stderr, "not stopped\n");
        std::exit(0);
      },
      ::testing::KilledBySignal(SIGABRT), "NT001 .*through slot 2, which is empty.*\nnuma-trace: strict mode");
}

TEST(Recorder, ConfigureRejectsUnknownWords) {
  EXPECT_EQ(numatrace_configure("stderr,bogus"), -1);
  EXPECT_EQ(numatrace_configure(("file:" + std::string(600, 'x')).c_str()), -1);
  EXPECT_EQ(numatrace_configure(""), 0);
}

TEST(Recorder, FileAndJsonlSinksGetEveryEvent) {
  TempDir d;
  Files f(d);
  std::string bin = d.file("t.nttrace"), jsonl = d.file("t.jsonl");
  ASSERT_EQ(numatrace_configure(("file:" + bin + ",jsonl:" + jsonl + ",quiet").c_str()), 0);
  begin(f);
  Unified u(f);
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u.base, u.total, -1, 0, nullptr, u.ext.data(), 3);
  for (int i = 0; i < 1000; ++i) NUMATRACE_RESOLVE(0, 1, 0x40, 8, u.base + 0x3000 + 0x40, "blk.1.ffn_up.weight");
  NUMATRACE_RESOLVE(1, 1, 0x40, 8, nullptr, "blk.1.ffn_gate.weight");  // NT001
  NUMATRACE_MAPPING_DESTROY(0, u.base);
  ASSERT_EQ(numatrace_configure(""), 0);  // closes the sinks

  struct stat st {};
  ASSERT_EQ(stat(bin.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string b = read_all(bin);
  ASSERT_GE(b.size(), sizeof(nt_trace_header));
  nt_trace_header h;
  std::memcpy(&h, b.data(), sizeof h);
  EXPECT_STREQ(h.magic, NT_TRACE_MAGIC);
  EXPECT_EQ(h.version, NT_TRACE_VERSION);
  EXPECT_EQ(h.event_size, sizeof(nt_fr_event));
  EXPECT_EQ(h.clock, static_cast<uint32_t>(NT_TRACE_CLOCK_NS));  // the default coarse clock counts nanoseconds
  size_t at = h.header_size;
  int resolves = 0, findings = 0, strings = 0, summaries = 0, creates = 0;
  uint32_t last_type = 0;
  while (at + sizeof(nt_trace_record_header) <= b.size()) {
    nt_trace_record_header rh;
    std::memcpy(&rh, b.data() + at, sizeof rh);
    at += sizeof rh;
    ASSERT_LE(at + rh.length, b.size());
    if (rh.type == NT_REC_EVENT) {
      nt_fr_event e;
      std::memcpy(&e, b.data() + at, sizeof e);
      resolves += e.type == NT_EV_RESOLVE;
      creates += e.type == NT_EV_CREATE;
    }
    if (rh.type == NT_REC_FINDING) {
      nt_fr_finding fi;
      std::memcpy(&fi, b.data() + at, sizeof fi);
      EXPECT_EQ(fi.code, 1);
      EXPECT_NE(std::string(b.data() + at + sizeof fi, rh.length - sizeof fi).find("resolve through slot 0"),
                std::string::npos);
      ++findings;
    }
    strings += rh.type == NT_REC_STRING;
    summaries += rh.type == NT_REC_SUMMARY;
    last_type = rh.type;
    at += (rh.length + 7) / 8 * 8;
  }
  EXPECT_EQ(at, b.size());
  EXPECT_EQ(resolves, 1001);
  EXPECT_EQ(creates, 1);
  EXPECT_EQ(findings, 1);
  EXPECT_EQ(strings, 4);  // model path and 3 file paths
  EXPECT_EQ(summaries, 1);
  EXPECT_EQ(last_type, static_cast<uint32_t>(NT_REC_SUMMARY));

  std::string j = read_all(jsonl);
  std::istringstream lines(j);
  std::string line;
  int n = 0, jres = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.front(), '{');
    EXPECT_EQ(line.back(), '}');
    jres += line.find("\"type\":\"resolve\"") != std::string::npos;
  }
  EXPECT_EQ(jres, 1001);
  EXPECT_NE(j.find("\"code\":\"NT001\""), std::string::npos);
  EXPECT_NE(j.find("\"path\":\"" + f.paths[2] + "\""), std::string::npos);
}

// Tensor names: up to 55 bytes kept, cut there, whatever their length and
// wherever they lie (the fast copy reads 64 bytes when they are in one
// page; a name near a page's end, before an unmapped page, is copied
// byte-exact); in the ring and in the thread's resolve in flight, with
// nothing of the memory after the name.
TEST(Recorder, ResolveNamesAreKeptWholeAndAlone) {
  TempDir d;
  Files f(d, 1);
  unsigned char* p = begin_per_file(f);
  // Two pages: the second is made inaccessible, so that a read past a
  // name at the end of the first would fault.
  auto* pages = static_cast<char*>(mmap(nullptr, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(pages, MAP_FAILED);
  ASSERT_EQ(mprotect(pages + 4096, 4096, PROT_NONE), 0);
  const std::string long_name(70, 'n');
  for (size_t len : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{31}, size_t{47}, size_t{54}, size_t{55},
                     size_t{56}, size_t{63}, size_t{64}, size_t{69}}) {
    for (size_t at : {size_t{0}, size_t{100}, size_t{4096 - 64}, size_t{4096 - 63}, 4096 - len - 1}) {
      if (at + len + 1 > 4096) continue;  // the name would not fit before the guard page
      std::memset(pages, 'x', 4096);      // what follows a name must not be kept
      char* name = pages + at;
      std::memcpy(name, long_name.data(), len);
      name[len] = 0;
      NUMATRACE_RESOLVE(0, 0, 8, 8, p + 8, name);
      const nt_fr_event* e = last_of(NT_EV_RESOLVE);
      ASSERT_NE(e, nullptr);
      const std::string want = long_name.substr(0, std::min<size_t>(len, NT_FR_NAME - 1));
      EXPECT_EQ(std::string(e->name), want) << "length " << len << " at " << at;
      const nt_fr_thread* t = nullptr;
      for (const auto& th : fr().threads)
        if (th.tid == static_cast<uint32_t>(gettid())) t = &th;
      ASSERT_NE(t, nullptr);
      EXPECT_EQ(std::string(t->name), want) << "length " << len << " at " << at;
      if (at + 64 <= 4096) {  // the fast copy: the rest of the field is zero
        for (size_t i = want.size(); i < NT_FR_NAME; ++i) EXPECT_EQ(e->name[i], 0) << "length " << len << " byte " << i;
      }
    }
  }
  NUMATRACE_RESOLVE(0, 0, 8, 8, p + 8, nullptr);
  EXPECT_STREQ(last_of(NT_EV_RESOLVE)->name, "");
  munmap(pages, 8192);
  NUMATRACE_MAPPING_DESTROY(0, p);
  munmap(p, f.sizes[0]);
}

// Resolves number their events from per-thread blocks of seqs. A table
// change ends every block (a thread's resolve after another thread's create
// comes after it in seq order), and a block the drainer passed while its
// thread was idle (here: a flush) is left for a new one; nothing is lost
// and nothing counted as dropped.
TEST(Recorder, SequenceBlocksKeepOrderAndLoseNothing) {
  TempDir d;
  Files f(d);
  std::string jsonl = d.file("blocks.jsonl");
  ASSERT_EQ(numatrace_configure(("jsonl:" + jsonl + ",quiet").c_str()), 0);
  begin(f);
  Unified u(f);
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u.base, u.total, -1, 0, nullptr, u.ext.data(), 3);
  std::atomic<int> phase{0};
  auto wait_for = [&](int p) {
    while (phase.load() != p) std::this_thread::yield();
  };
  std::thread worker([&] {
    for (int i = 0; i < 5; ++i) NUMATRACE_RESOLVE(0, 1, 0x40, 8, u.base + 0x3000 + 0x40, "before.create");
    phase = 1;
    wait_for(2);
    for (int i = 0; i < 5; ++i) NUMATRACE_RESOLVE(0, 1, 0x40, 8, u.base + 0x3000 + 0x40, "after.create");
    phase = 3;
    wait_for(4);
    for (int i = 0; i < 5; ++i) NUMATRACE_RESOLVE(0, 1, 0x40, 8, u.base + 0x3000 + 0x40, "after.flush");
  });
  wait_for(1);
  static char other[4096];
  NUMATRACE_MAPPING_CREATE(5, NUMATRACE_KIND_PER_FILE, other, sizeof other, -1, NUMATRACE_MAP_ANON, nullptr, nullptr,
                           0);
  phase = 2;
  wait_for(3);
  numatrace_flush();  // passes the rest of the worker's block
  phase = 4;
  worker.join();
  NUMATRACE_MAPPING_DESTROY(5, other);
  NUMATRACE_MAPPING_DESTROY(0, u.base);
  ASSERT_EQ(numatrace_configure(""), 0);

  std::istringstream lines(read_all(jsonl));
  std::string line;
  auto seq_of = [](const std::string& l) { return std::stoull(l.substr(l.find("\"seq\":") + 6)); };
  uint64_t create5 = 0, last_before = 0, first_after = ~0ull;
  std::map<std::string, int> count;
  while (std::getline(lines, line)) {
    EXPECT_EQ(line.find("\"type\":\"dropped\""), std::string::npos) << line;
    if (line.find("\"type\":\"create\"") != std::string::npos && line.find("\"slot\":5") != std::string::npos)
      create5 = seq_of(line);
    for (const char* name : {"before.create", "after.create", "after.flush"})
      if (line.find(std::string("\"") + name + "\"") != std::string::npos) {
        ++count[name];
        if (name == std::string("before.create")) last_before = std::max<uint64_t>(last_before, seq_of(line));
        if (name == std::string("after.create")) first_after = std::min<uint64_t>(first_after, seq_of(line));
      }
  }
  EXPECT_EQ(count["before.create"], 5);
  EXPECT_EQ(count["after.create"], 5);
  EXPECT_EQ(count["after.flush"], 5);
  ASSERT_NE(create5, 0u);
  EXPECT_LT(last_before, create5);
  EXPECT_GT(first_after, create5);
}

// A file at the path (another process's trace, or anything else) is left
// as it is; this process traces beside it, to PATH.1.
TEST(Recorder, ExistingTraceFileIsNeverOverwritten) {
  TempDir d;
  std::string bin = d.file("exists.nttrace");
  std::ofstream(bin) << "precious";
  ASSERT_EQ(numatrace_configure(("file:" + bin).c_str()), 0);
  ASSERT_EQ(numatrace_configure(""), 0);
  EXPECT_EQ(read_all(bin), "precious");
  EXPECT_EQ(read_all(bin + ".1").substr(0, 7), "NTTRACE");
}

// A full disk (here: RLIMIT_FSIZE, which fails writes with EFBIG the same
// way) is reported once; the program runs on and the recorder keeps going.
TEST(Recorder, SinkWriteFailureIsReportedOnceAndHarmless) {
  TempDir d;
  std::string bin = d.file("small.nttrace");
  EXPECT_EXIT(
      {
        signal(SIGXFSZ, SIG_IGN);
        rlimit lim;
        lim.rlim_cur = lim.rlim_max = 8192;
        setrlimit(RLIMIT_FSIZE, &lim);
        numatrace_configure(("file:" + bin).c_str());
        static char buf[4096];
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, buf, sizeof buf, -1, NUMATRACE_MAP_ANON, nullptr, nullptr,
                                 0);
        for (int i = 0; i < 20000; ++i) NUMATRACE_RESOLVE(0, 0, 0, 1, buf, "t");
        numatrace_flush();
        for (int i = 0; i < 20000; ++i) NUMATRACE_RESOLVE(0, 0, 0, 1, buf, "t");
        numatrace_configure("");
        std::fprintf(stderr, "still running, events %llu, sink errors %llu\n",
                     static_cast<unsigned long long>(fr().counters.events),
                     static_cast<unsigned long long>(fr().counters.sink_errors));
        std::exit(fr().counters.sink_errors == 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0),
      "write failed: File too large \\(errno 27\\); this sink is off, the flight recorder keeps recording\n"
      "(.*\n)*still running");
}

TEST(Recorder, ForkedChildStartsClean) {
  NUMATRACE_MLOCK_GROW(3, nullptr, 0);  // something in the parent's ring (and an NT014)
  ASSERT_GT(fr().head, 0u);
  pid_t pid = fork();
  if (pid == 0) {
    bool clean = fr().head == 0 && fr().n_mappings == 0 && fr().pid == static_cast<uint32_t>(getpid());
    NUMATRACE_RESOLVE(0, 0, 0, 1, nullptr, "x");
    // The child's first events: the resolve (seq 1, the first of its block)
    // and its finding.
    const nt_fr_event* r = last_of(NT_EV_RESOLVE);
    const nt_fr_event* f = last_of(NT_EV_FINDING);
    _exit(clean && r && r->seq == 1 && f && f->seq > 1 ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST(Recorder, ConcurrentResolvesFromManyThreads) {
  TempDir d;
  Files f(d, 1);
  unsigned char* p = begin_per_file(f);
  const uint64_t before = fr().head, findings = fr().counters.findings;
  constexpr int kThreads = 4, kEach = 50000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) NUMATRACE_RESOLVE(0, 0, 8, 8, p + 8, "token_embd.weight");
    });
  for (auto& t : ts) t.join();
  // Each thread takes its seqs in blocks: at most one block each unused.
  EXPECT_GE(fr().head - before, uint64_t{kThreads} * kEach);
  EXPECT_LE(fr().head - before, uint64_t{kThreads} * (kEach + 32));
  EXPECT_EQ(fr().counters.findings, findings);
  // The ring's last entries are whole events, or the unused rest of a
  // block (an older seq); never a torn one.
  int whole = 0;
  for (uint64_t s = fr().head; s > fr().head - 300; --s) {
    const nt_fr_event& e = fr().ring[(s - 1) % NT_FR_RING];
    if (e.seq != s) {
      EXPECT_LT(e.seq, s);
      continue;
    }
    ++whole;
    EXPECT_EQ(e.type, NT_EV_RESOLVE);
    EXPECT_STREQ(e.name, "token_embd.weight");
  }
  EXPECT_GE(whole, 300 - kThreads * 32);
  NUMATRACE_MAPPING_DESTROY(0, p);
  munmap(p, f.sizes[0]);
}

// Placement is sampled with move_pages: on this machine every page is on
// node 0, so a replica meant for node 1 is reported (NT009), one meant for
// node 0 is not.
TEST(Recorder, PlacementSamplingFindsReplicaOnTheWrongNode) {
  TempDir d;
  Files f(d);
  EXPECT_EXIT(
      {
        begin(f);
        Unified u(f);
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_REPLICA, u.base, u.total, 0, 0, nullptr, u.ext.data(), 3);
        numatrace_sample_placement();
        const nt_fr_mapping& m = fr().mappings[0];
        if (m.placement_sampled == 0 || m.placement[0] != m.placement_sampled - m.placement_absent) std::exit(3);
        if (fr().counters.findings != 0) std::exit(4);
        NUMATRACE_MAPPING_DESTROY(0, u.base);
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_REPLICA, u.base, u.total, 1, 0, nullptr, u.ext.data(), 3);
        numatrace_sample_placement();
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "NT009 the replica mapping in slot 0 for node 1 .* has 0 of [0-9]+ sampled pages on node 1, most on node 0");
}

// Failure mode 6: a stale copy (a hugepage file left by a crashed run)
// serves one file's bytes: NT011 at model end, with the exact offset.
TEST(Recorder, StaleUnifiedCopyIsNT011) {
  TempDir d;
  Files f(d);
  EXPECT_EXIT(
      {
        begin(f);
        Unified u(f);
        u.base[u.ext[2].offset + 0x1234] ^= 0xff;
        NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_UNIFIED, u.base, u.total, -1, 0, nullptr, u.ext.data(), 3);
        NUMATRACE_MODEL_END();
        std::exit(0);
      },
      ::testing::ExitedWithCode(0),
      "NT011 the unified mapping in slot 0 .* differs from file 2 of 3 at file offset 0x1234");
}

// A handler the program installs after ours still runs, after the capture.
TEST(Recorder, CrashChainsToTheProgramsHandler) {
  EXPECT_EXIT(
      {
        struct sigaction act {};
        act.sa_handler = [](int) {
          static const char msg[] = "program's handler\n";
          (void)!write(2, msg, sizeof msg - 1);
          _exit(42);
        };
        sigaction(SIGSEGV, &act, nullptr);
        volatile int* p = nullptr;
        *p = 1;
      },
      // The program's handler runs first; its _exit while the fault is
      // unrecovered makes it a crash, said with the real fault address.
      ::testing::ExitedWithCode(42), "program's handler\nnuma-trace: SIGSEGV at fault address 0x0");
}

// A handler that repairs the fault (the page made accessible) and returns:
// the program goes on, and numa-trace says and records no crash.
uint8_t* volatile g_guarded = nullptr;
TEST(Recorder, AHandlerThatRecoversIsNoCrash) {
  EXPECT_EXIT(
      {
        g_guarded = static_cast<uint8_t*>(mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
        struct sigaction act {};
        act.sa_flags = SA_SIGINFO;
        act.sa_sigaction = [](int, siginfo_t*, void*) { mprotect(g_guarded, 4096, PROT_READ | PROT_WRITE); };
        sigaction(SIGSEGV, &act, nullptr);
        g_guarded[10] = 7;  // faults once, then succeeds
        if (g_guarded[10] != 7) _exit(3);
        if (fr().crash.signal != 0) _exit(4);  // the snapshot was dropped
        for (uint64_t s = 1; s <= fr().head; ++s)
          if (fr().ring[(s - 1) % NT_FR_RING].type == NT_EV_CRASH) _exit(5);
        static const char msg[] = "recovered\n";
        (void)!write(2, msg, sizeof msg - 1);
        std::exit(0);
      },
      ::testing::ExitedWithCode(0), "^recovered\n$");
}

// abort(): a sent signal has no fault address (si_addr holds the pid).
TEST(Recorder, AbortSaysSentNotAFaultAddress) {
  EXPECT_EXIT(abort(), ::testing::KilledBySignal(SIGABRT), "numa-trace: SIGABRT \\(sent, not a fault\\) in thread");
}

}  // namespace
