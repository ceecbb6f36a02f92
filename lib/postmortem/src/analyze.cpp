#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwelf.h>
#include <elfutils/libdwfl.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "core.h"
#include "debuginfo.h"
#include "numatrace/gguf/split_name.h"
#include "numatrace/postmortem/codes.h"
#include "numatrace/rules/engine.h"
#include "numatrace/rules/remote.h"
#include "numatrace/text.h"

namespace numatrace::postmortem {

const char* fault_class_name(FaultClass c) {
  switch (c) {
    case FaultClass::none: return "none";
    case FaultClass::null_page: return "null page";
    case FaultClass::live_mapping: return "inside a live mapping";
    case FaultClass::destroyed_mapping: return "inside a destroyed or unmapped mapping";
    case FaultClass::past_mapping_end: return "past a mapping's end";
    case FaultClass::unmapped: return "unmapped";
  }
  return "?";
}

namespace {

// dwfl_errmsg may return null: never pass that to a string.
std::string dwfl_error() {
  const char* m = dwfl_errmsg(-1);
  return m ? m : "unknown error";
}

std::string to_hex(const unsigned char* p, size_t n) {
  static const char d[] = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    s += d[p[i] >> 4];
    s += d[p[i] & 15];
  }
  return s;
}

// ------------------------------------------------------------ dwfl stacks

struct Walk {
  Dwfl* dwfl;
  CuIndex* cus;
  const Options* o;
  Report* r;
  Thread* cur;
  int crashed_tid;
  bool crashed;
  ThreadFrames* regs;  // every thread's frames (bounded), for the DWARF reader
  std::vector<FrameRegs>* cur_regs;
};

}  // namespace

// The C and C++ runtime: its frames are named from the symbol table only,
// since their DWARF (libc6-dbg and the like, zlib-compressed) costs more to
// open than all the rest of a post-mortem.
bool runtime_module(const std::string& file) {
  static const char* const prefixes[] = {"libc.so",       "libstdc++.so", "libgcc_s.so", "ld-linux", "libm.so",
                                         "libpthread.so", "libdl.so",     "librt.so",    "libc-",    "linux-vdso"};
  for (const char* p : prefixes)
    if (file.rfind(p, 0) == 0) return true;
  return false;
}

namespace {

void symbolize(Dwfl* dwfl, CuIndex& cus, uint64_t pc, std::vector<Frame>& out, bool sources, bool runtime_too) {
  Frame f;
  f.pc = pc;
  Dwfl_Module* mod = dwfl_addrmodule(dwfl, pc);
  if (mod) {
    Dwarf_Addr start = 0;
    const char* mainfile = nullptr;
    const char* name = dwfl_module_info(mod, nullptr, &start, nullptr, nullptr, nullptr, &mainfile, nullptr);
    f.module = base_name(mainfile ? mainfile : name ? name : "");
    f.module_offset = pc - start;
    GElf_Off off;
    GElf_Sym sym;
    const char* fn = dwfl_module_addrinfo(mod, pc, &off, &sym, nullptr, nullptr, nullptr);
    f.function = demangle(fn);
    if (!sources || (!runtime_too && runtime_module(f.module))) {
      out.push_back(f);
      return;
    }
    // A source line only from a compile unit that covers the pc: code
    // without DWARF of its own (crt1.o's _start) would otherwise get the
    // nearest line of another unit.
    CuAt at;
    const bool have_cu = cus.find(mod, pc, at);
    if (have_cu && dwarf_haspc(&at.skeleton, pc - at.bias) > 0) {
      if (Dwarf_Line* line = dwarf_getsrc_die(&at.skeleton, pc - at.bias)) {
        int lineno = 0;
        const char* src = dwarf_linesrc(line, nullptr, nullptr);
        if (src && dwarf_lineno(line, &lineno) == 0) {
          f.file = src;
          f.line = lineno;
        }
      }
    }
    // Inlined calls at this pc, innermost first.
    if (have_cu) {
      // Every level of inlining (concrete scopes, not dwarf_getscopes,
      // which stops at the innermost inlined call's abstract origin).
      std::vector<Dwarf_Die> chain;
      concrete_scopes(&at.cu, pc - at.bias, chain, 0);
      for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
        if (dwarf_tag(&*it) != DW_TAG_inlined_subroutine) continue;
        const std::string iname = qualified_name(&*it, true);
        Frame in;
        in.pc = pc;
        in.inlined = true;
        in.function = iname.empty() ? "<inlined>" : iname;
        in.module = f.module;
        in.module_offset = f.module_offset;
        out.push_back(in);
        if (out.size() > 256) break;
      }
    }
  }
  out.push_back(f);
}

int frame_cb(Dwfl_Frame* frame, void* arg) {
  auto* w = static_cast<Walk*>(arg);
  Dwarf_Addr pc = 0;
  bool activation = false;
  if (!dwfl_frame_pc(frame, &pc, &activation)) {
    w->cur->error = std::string("dwfl_frame_pc: ") + dwfl_error();
    return DWARF_CB_ABORT;
  }
  if (w->cur_regs && w->cur_regs->size() < kReaderFrames) capture_frame(frame, *w->cur_regs);
  if (w->cur->frames.size() >= w->o->max_frames) {
    w->cur->truncated = true;
    return DWARF_CB_ABORT;
  }
  // A return address points after the call: pc - 1 is inside it.
  const bool sources = w->o->sources == Sources::all || (w->o->sources == Sources::crashed && w->crashed);
  symbolize(w->dwfl, *w->cus, activation ? pc : pc - 1, w->cur->frames, sources, w->o->sources == Sources::all);
  return DWARF_CB_OK;
}

int thread_cb(Dwfl_Thread* thread, void* arg) {
  auto* w = static_cast<Walk*>(arg);
  if (w->r->threads.size() >= w->o->max_threads) {
    w->r->threads_truncated = true;
    return DWARF_CB_ABORT;
  }
  Thread t;
  t.tid = static_cast<int>(dwfl_thread_tid(thread));
  w->crashed = t.tid == w->crashed_tid;
  w->r->threads.push_back(t);
  w->cur = &w->r->threads.back();
  // The DWARF reader's registers: the crashing thread's, and those of
  // other threads (the loader may be a local of one whose frames survived
  // where the crashing thread's were optimized out, as under -flto).
  w->cur_regs = nullptr;
  if (w->crashed || w->regs->size() < kReaderThreads) {
    w->regs->push_back({t.tid, {}});
    w->cur_regs = &w->regs->back().second;
  }
  if (dwfl_thread_getframes(thread, frame_cb, w) != 0 && w->cur->error.empty() && !w->cur->truncated &&
      w->cur->frames.empty())
    w->cur->error = std::string("dwfl_thread_getframes: ") + dwfl_error();
  return DWARF_CB_OK;
}

struct DwflCloser {
  void operator()(Dwfl* d) const { dwfl_end(d); }
};

// Module build-ids: the one the core records against the file dwfl used.
int module_cb(Dwfl_Module* mod, void**, const char* name, Dwarf_Addr, void* arg) {
  auto* r = static_cast<Report*>(arg);
  ModuleCheck m;
  m.name = name ? name : "";
  const unsigned char* id = nullptr;
  GElf_Addr vaddr;
  int n = dwfl_module_build_id(mod, &id, &vaddr);
  if (n > 0) m.core_build_id = to_hex(id, static_cast<size_t>(n));
  GElf_Addr bias;
  if (Elf* e = dwfl_module_getelf(mod, &bias)) {
    const void* fid = nullptr;
    ssize_t fn = dwelf_elf_gnu_build_id(e, &fid);
    if (fn > 0) m.file_build_id = to_hex(static_cast<const unsigned char*>(fid), static_cast<size_t>(fn));
    const char* mainfile = nullptr;
    dwfl_module_info(mod, nullptr, nullptr, nullptr, nullptr, nullptr, &mainfile, nullptr);
    m.path = mainfile ? mainfile : "";
  }
  m.mismatch = !m.core_build_id.empty() && !m.file_build_id.empty() && m.core_build_id != m.file_build_id;
  r->modules.push_back(std::move(m));
  return DWARF_CB_OK;
}

// --------------------------------------------------------- the recorder

// Through the symbol in libnumatrace; else a scan of writable segments.
bool find_recorder(Dwfl* dwfl, const Core& core, Report& r) {
  struct Find {
    uint64_t addr = 0;
    bool loaded = false;  // a libnumatrace module is mapped
  } found;
  dwfl_getmodules(
      dwfl,
      [](Dwfl_Module* mod, void**, const char* name, Dwarf_Addr, void* arg) -> int {
        if (!name || !std::strstr(name, "libnumatrace")) return DWARF_CB_OK;
        static_cast<Find*>(arg)->loaded = true;
        int n = dwfl_module_getsymtab(mod);
        for (int i = 0; i < n && i < (1 << 20); ++i) {
          GElf_Sym sym;
          GElf_Addr addr;
          const char* s = dwfl_module_getsym_info(mod, i, &sym, &addr, nullptr, nullptr, nullptr);
          if (s && std::strcmp(s, "numatrace_flight_recorder") == 0) {
            static_cast<Find*>(arg)->addr = addr;
            return DWARF_CB_ABORT;
          }
        }
        return DWARF_CB_OK;
      },
      &found, 0);
  if (found.addr) return take_recorder(core, found.addr, "symbol", r);
  // Without a libnumatrace module there is no recorder to find (it lives in
  // that library's .bss); the scan is for one whose symbols are gone.
  if (!found.loaded) return false;
  return scan_recorder(core, r);
}

}  // namespace

bool take_recorder(const Core& core, uint64_t addr, const char* how, Report& r) {
  uint64_t magic = 0;
  uint32_t version = 0, size = 0;
  if (!core.read(addr, &magic, 8) || magic != NT_FR_MAGIC) {
    r.recorder_error = std::string("the flight recorder at ") + hex(addr) + " (found by " + how +
                       ") has no valid magic: it was not dumped, or is corrupt";
    return false;
  }
  core.read(addr + 8, &version, 4);
  core.read(addr + 12, &size, 4);
  if (version != NT_FR_VERSION || size != sizeof(nt_flight_recorder)) {
    r.recorder_error = "the flight recorder has version " + std::to_string(version) + " and size " +
                       std::to_string(size) + "; this numa-trace reads version " + std::to_string(NT_FR_VERSION) +
                       " (" + std::to_string(sizeof(nt_flight_recorder)) + " bytes): use the numa-trace that traced it";
    return false;
  }
  auto rec = std::make_shared<nt_flight_recorder>();
  if (!core.read(addr, rec.get(), sizeof *rec)) {
    r.recorder_error = "the flight recorder at " + hex(addr) + " is not wholly in the core (truncated?)";
    return false;
  }
  r.recorder = rec;
  r.recorder_address = addr;
  r.recorder_found_by = how;
  return true;
}

bool scan_recorder(const Core& core, Report& r) {
  // The magic at an 8-byte boundary in the dumped part of a writable
  // segment. Only the magic must lie in one segment: the recorder itself
  // may run on into the next (it spans .data/.bss boundaries in real
  // cores), and take_recorder() reads it piecewise. Only bytes the core
  // file holds are scanned, whatever p_filesz claims.
  for (const auto& s : core.loads()) {
    if (!(s.flags & PF_W) || s.filesz < 8 || s.offset >= core.file_size()) continue;
    const uint64_t avail = std::min<uint64_t>(s.filesz, core.file_size() - s.offset);
    const unsigned char* p = core.view(s.vaddr, static_cast<size_t>(avail));
    if (!p || avail < 8) continue;
    const uint64_t magic = NT_FR_MAGIC;
    const size_t len = static_cast<size_t>(avail);
    for (const unsigned char* at = p; at + 8 <= p + len;) {
      const auto* hit = static_cast<const unsigned char*>(memmem(at, static_cast<size_t>(p + len - at), &magic, 8));
      if (!hit) break;
      const uint64_t addr = s.vaddr + static_cast<uint64_t>(hit - p);
      if (addr % 8 == 0 && take_recorder(core, addr, "magic scan", r)) {
        r.recorder_error.clear();
        return true;
      }
      at = hit + 1;
    }
  }
  return false;
}

std::string crash_sentence(int signal, uint64_t fault_address, FaultClass c, const std::string& where) {
  return (signal ? signal_text(signal) + " at " + hex(fault_address) + " (" + fault_class_name(c) + ")"
                 : std::string("Stopped")) +
         where;
}

std::vector<nt_fr_event> last_events(const nt_flight_recorder& fr, unsigned max) {
  std::vector<nt_fr_event> out;
  for (uint64_t s = fr.head; s > 0 && s + NT_FR_RING > fr.head && out.size() < max; --s) {
    const nt_fr_event& e = fr.ring[(s - 1) % NT_FR_RING];
    if (e.seq != s) continue;
    out.push_back(e);
    out.back().name[NT_FR_NAME - 1] = 0;  // printed with %s: a core's bytes need not end in NUL
  }
  std::reverse(out.begin(), out.end());
  return out;
}

std::string recorder_error_sentence(const Report& r) {
  if (r.recorder_error.empty()) return std::string();
  std::string e = r.recorder_error;
  e[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(e[0])));
  return " " + e + ".";
}

namespace {

// The first finding that can explain a crash: advice (NT015) cannot.
size_t explaining(const std::vector<nt_fr_finding>& findings) {
  size_t k = 0;
  while (k < findings.size() && rules::is_advice(findings[k].code)) ++k;
  return k;
}

// NT015 (advice) of the load whose resolves the ring still holds: the
// events after its last model begin, against the recorder's placement
// samples. A load longer than the ring is judged on its last events.
bool remote_reads_in_ring(const nt_flight_recorder& fr, nt_fr_finding& out) {
  auto acc = std::make_unique<rules::RemoteReads>();
  acc->reset();
  for (const nt_fr_event& e : last_events(fr, NT_FR_RING)) {
    if (e.type == NT_EV_MODEL_BEGIN) acc->reset();
    if (e.type == NT_EV_RESOLVE) acc->add(fr, e, rules::resolved_through(fr, e));
  }
  return rules::check_remote_reads(fr, *acc, rules::kDefaultRemoteThresholdPct, out) != 0;
}

}  // namespace

Judgement judge(const nt_flight_recorder& fr, int tid, int signal, uint64_t fault_address, const std::string& where) {
  Judgement j;
  // Class of the fault address against the recorded mappings.
  if (signal == SIGSEGV || signal == SIGBUS) {
    j.fault_class = fault_address < 4096 ? FaultClass::null_page : FaultClass::unmapped;
    for (uint32_t i = 0; i < rules::mapping_count(fr) && fault_address >= 4096; ++i) {
      const auto& m = fr.mappings[i];
      if (rules::contains(m, fault_address)) {
        j.fault_class = rules::live(m) && !rules::in_hole(fr, static_cast<int>(i), fault_address - m.base, 1)
                            ? FaultClass::live_mapping
                            : FaultClass::destroyed_mapping;
        break;
      }
      if (fault_address >= m.base + m.length && fault_address < m.base + m.length + (1u << 20))
        j.fault_class = FaultClass::past_mapping_end;
    }
  }
  // The thread's resolve in flight, judged by the rule engine against the
  // tables as they were at the crash.
  const nt_fr_thread* inflight = nullptr;
  const nt_fr_thread* finished = nullptr;  // the thread's last resolve, ended before the crash
  for (const auto& t : fr.threads)
    if (t.tid == static_cast<uint32_t>(tid) && t.seq && (t.gen & 1) == 0) (t.in_flight ? inflight : finished) = &t;
  if (inflight) {
    nt_fr_event ev{};
    ev.seq = inflight->seq;
    ev.type = NT_EV_RESOLVE;
    ev.tid = inflight->tid;
    ev.slot = inflight->slot;
    ev.file_idx = inflight->file_idx;
    ev.node = inflight->node;
    ev.cpu = inflight->cpu;
    ev.a = inflight->offset;
    ev.b = inflight->size;
    ev.c = inflight->address;
    std::memcpy(ev.name, inflight->name, NT_FR_NAME);
    ev.name[NT_FR_NAME - 1] = 0;
    nt_fr_finding f;
    if (rules::check_resolve(fr, ev, f)) j.findings.push_back(f);
  }
  // The recorder's own findings (most recent last), without repeating the one above.
  uint32_t total = fr.n_findings_total, first = total > NT_FR_MAX_FINDINGS ? total - NT_FR_MAX_FINDINGS : 0;
  for (uint32_t k = first; k < total; ++k) {
    const nt_fr_finding& f = fr.findings[k % NT_FR_MAX_FINDINGS];
    if (!f.seq) continue;
    bool dup = false;
    for (const auto& g : j.findings)
      dup |= g.code == f.code && g.slot == f.slot && g.file_idx == f.file_idx && g.offset == f.offset;
    if (!dup) j.findings.push_back(f);
  }
  if (nt_fr_finding remote;
      remote_reads_in_ring(fr, remote) &&
      std::none_of(j.findings.begin(), j.findings.end(), [](const nt_fr_finding& g) { return g.code == rules::NT015; }))
    j.findings.push_back(remote);
  for (const auto& f : j.findings) {
    char buf[768];
    rules::format_finding(fr, f, buf, sizeof buf);
    j.finding_text.emplace_back(buf);
  }
  // One paragraph: what happened, where, why, what to do.
  std::string v = crash_sentence(signal, fault_address, j.fault_class, where);
  // "'NAME' (file K of N, offset X)" for a thread's resolve record.
  auto resolve_text = [&](const nt_fr_thread& t) {
    char fo[64];
    rules::Buf b(fo, sizeof fo);
    rules::file_of(fr, b, t.file_idx);
    return "'" + std::string(t.name, strnlen(t.name, NT_FR_NAME)) + "' (" + fo + ", offset " + hex(t.offset) + ")";
  };
  if (inflight)
    v += " while resolving " + resolve_text(*inflight);
  else if (finished)
    v += "; last resolve by this thread (finished): " + resolve_text(*finished);
  v += ".";
  if (!j.findings.empty() && j.findings.front().code == rules::NT001 && inflight) {
    const nt_fr_finding& f = j.findings.front();
    v += " Mapping slot " + std::to_string(f.slot) + " is empty.";
    if (f.mapping >= 0 && f.mapping < NT_FR_MAX_MAPPINGS) {  // a finding read from a core: bounded
      const auto& h = fr.mappings[f.mapping];
      char cov[64];
      rules::Buf cb(cov, sizeof cov);
      rules::covered(fr, cb, f.mapping);
      const nt_fr_extent* e = rules::find_extent(fr, f.mapping, f.file_idx);
      v += " The " + std::string(format::kind_name(h.kind)) + " mapping for " + cov + " lives in slot " +
           std::to_string(h.slot) + " (base " + hex(h.base) + ", file " + std::to_string(f.file_idx) + " at +" +
           hex(e ? e->offset : 0) + "). Resolve through slot " + std::to_string(h.slot) + " at that offset.";
    } else {
      v += " No mapping holds file " + std::to_string(f.file_idx) + ": create it before resolving its tensors.";
    }
  } else if (size_t k = explaining(j.findings); k < j.findings.size()) {
    v += " " + j.finding_text[k];
  } else if (j.fault_class == FaultClass::null_page) {
    v += " No recorded mapping explains it: a null pointer outside the mapping slots numa-trace watches.";
  } else if (!signal) {
    v += " No finding: the mapping slots are consistent with what is being resolved.";
  }
  j.verdict = v;
  return j;
}

std::string crash_location(const Report& r) {
  for (const auto& t : r.threads)
    if (t.crashed)
      for (const auto& f : t.frames)
        // The first frame of the program's own code: not numa-trace's, not
        // the standard library's internals. (A std:: frame that runs one of
        // the program's lambdas counts: it is the program's code, inlined
        // into the thread's entry; a bare "operator()" is an inlined lambda
        // body, which its caller names better.)
        if (!f.function.empty() && f.module.find("libnumatrace") == std::string::npos &&
            (f.function.rfind("std::", 0) != 0 || f.function.find("{lambda") != std::string::npos) &&
            f.function.rfind("__", 0) != 0 && f.function.find("numatrace::rec") == std::string::npos &&
            f.function != "operator()")
          return " in " + f.function;
  return std::string();
}

Result<Report> analyze(const Options& o) {
  // Debug info from debuginfod servers only when the user named some and
  // did not say --offline; their downloads say their progress on stderr.
  const char* urls = getenv("DEBUGINFOD_URLS");
  if (o.offline || !urls || !*urls)
    unsetenv("DEBUGINFOD_URLS");
  else if (!getenv("DEBUGINFOD_PROGRESS"))
    setenv("DEBUGINFOD_PROGRESS", "1", 0);
  auto opened = Core::open(o.core);
  if (!opened) return opened.error();
  const Core& core = **opened;
  Report r;
  r.core_path = o.core;
  r.signal = core.signal;
  r.si_code = core.si_code;
  r.fault_address = core.fault_address;
  r.have_siginfo = core.have_siginfo;
  r.crashed_tid = core.first_tid;
  r.warnings = core.warnings;
  for (const auto& w : r.warnings) r.damaged |= w.code == code::truncated || w.code == code::corrupt_notes;
  r.executable = !o.executable.empty() ? o.executable : core.execfn;

  // GGUF splits and hugetlbfs files mapped at the crash (NT_FILE).
  int split_count = 0;
  std::vector<bool> mapped_split;
  for (const auto& f : core.nt_file) {
    MappedFile m = f;
    const std::string name = base_name(f.path);
    if (name.size() > 5 && name.compare(name.size() - 5, 5, ".gguf") == 0) {
      uint32_t idx = 0, of = 0;
      if (gguf::parse_split_suffix(name.data(), name.size(), idx, of)) {
        m.file_idx = static_cast<int>(idx);
        m.split_count = static_cast<int>(of);
        split_count = std::max(split_count, static_cast<int>(of));
      }
      r.files.push_back(m);
    } else if (f.path.find("/dev/hugepages") == 0 || name.find("llama-unified") != std::string::npos) {
      m.hugetlbfs = true;
      r.files.push_back(m);
    }
  }
  mapped_split.assign(static_cast<size_t>(split_count), false);
  for (const auto& f : r.files)
    if (f.file_idx >= 0 && f.file_idx < split_count) mapped_split[static_cast<size_t>(f.file_idx)] = true;
  for (int i = 0; i < split_count; ++i)
    if (!mapped_split[static_cast<size_t>(i)]) r.splits_without_mapping.push_back(i);

  // Threads and frames.
  // Separate debug info: by build-id under each --debug-dir first, then
  // next to the file and in /usr/lib/debug (libdwfl's default path).
  std::string debug_path;
  for (const auto& d : o.debug_dirs) debug_path += d + ":";
  debug_path += ":.debug:/usr/lib/debug";
  char* debug_path_c = debug_path.data();
  const Dwfl_Callbacks callbacks = {dwfl_build_id_find_elf, dwfl_standard_find_debuginfo, dwfl_offline_section_address,
                                    &debug_path_c};
  std::unique_ptr<Dwfl, DwflCloser> dwfl(dwfl_begin(&callbacks));
  if (!dwfl) return Error{ErrorKind::io, code::io, o.core, "", std::string("dwfl_begin: ") + dwfl_error()};
  CuIndex cus;  // the compile units of the modules read, for this Dwfl's lifetime
  // libdwfl opens the files the core names (NT_FILE, the executable) with a
  // plain blocking open: a FIFO planted at such a path would hang it. The
  // executable is passed only when it is a regular file; a FIFO named in
  // NT_FILE is held open here for writing (O_NONBLOCK), so libdwfl's open
  // returns at once and its reads fail (a pipe cannot be pread).
  std::vector<int> held_fifos;
  struct FifoCloser {
    std::vector<int>& fds;
    ~FifoCloser() {
      for (int fd : fds) ::close(fd);
    }
  } close_fifos{held_fifos};
  auto not_regular = [](const std::string& p) {
    struct stat st {};
    return ::stat(p.c_str(), &st) == 0 && !S_ISREG(st.st_mode);
  };
  if (!r.executable.empty() && not_regular(r.executable)) {
    r.warnings.push_back(
        Warning{"", "the executable " + r.executable + " is not a regular file; not read (pass --exe)"});
    r.executable.clear();
  }
  for (const auto& f : core.nt_file) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || S_ISREG(st.st_mode)) continue;
    if (S_ISFIFO(st.st_mode) && held_fifos.size() < 64) {
      int fd = ::open(f.path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC);
      if (fd >= 0) held_fifos.push_back(fd);
    }
    if (r.warnings.size() < 16)
      r.warnings.push_back(Warning{"", f.path + ", mapped at the crash, is now not a regular file; not read"});
  }
  dwfl_report_begin(dwfl.get());
  if (dwfl_core_file_report(dwfl.get(), core.elf(), r.executable.empty() ? nullptr : r.executable.c_str()) < 0)
    r.warnings.push_back(
        Warning{"", std::string("dwfl_core_file_report: ") + dwfl_error() + " (modules unknown: frames unsymbolized)"});
  if (dwfl_report_end(dwfl.get(), nullptr, nullptr) != 0)
    r.warnings.push_back(Warning{"", std::string("dwfl_report_end: ") + dwfl_error()});
  dwfl_getmodules(dwfl.get(), module_cb, &r, 0);
  for (const auto& m : r.modules)
    if (m.mismatch && !o.force)
      return Error{ErrorKind::invalid, code::build_id, o.core, "module " + m.name,
                   "build-id " + m.core_build_id + " in the core, " + m.file_build_id + " in " + m.path +
                       ": not the file the process ran (pass --exe, or --force to use it anyway)"};
  ThreadFrames frames;
  if (dwfl_core_file_attach(dwfl.get(), core.elf()) < 0) {
    r.warnings.push_back(Warning{"", std::string("dwfl_core_file_attach: ") + dwfl_error() + " (no stacks)"});
  } else {
    Walk w{dwfl.get(), &cus, &o, &r, nullptr, core.first_tid, false, &frames, nullptr};
    if (dwfl_getthreads(dwfl.get(), thread_cb, &w) != 0 && r.threads.empty())
      r.warnings.push_back(Warning{"", std::string("dwfl_getthreads: ") + dwfl_error()});
  }
  // The crashing thread (the first NT_PRSTATUS) first.
  std::stable_sort(r.threads.begin(), r.threads.end(), [&](const Thread& a, const Thread& b) {
    return a.tid == core.first_tid && b.tid != core.first_tid;
  });
  for (auto& t : r.threads) t.crashed = t.tid == core.first_tid;

  // The flight recorder and the verdict.
  find_recorder(dwfl.get(), core, r);
  // A handler of the program's own (node's, for one) may catch a fault and
  // raise() it again: the core's siginfo then says SI_TKILL and holds the
  // sender's pid where the fault address would be. The recorder's crash
  // record, taken at the fault, has the real one.
  if (r.recorder && r.si_code <= 0) {
    const nt_fr_crash& c = r.recorder->crash;
    if (c.signal == r.signal && c.tid == static_cast<uint32_t>(core.first_tid) && c.si_code > 0) {
      r.warnings.push_back(
          Warning{"", "the program re-raised " + signal_text(r.signal) +
                          " from its own handler; the fault address is the flight recorder's, taken at the fault"});
      r.si_code = c.si_code;
      r.fault_address = c.fault_address;
    }
  }
  const std::string where = crash_location(r);
  const std::string sig = r.signal ? signal_text(r.signal) : "no signal";
  if (r.recorder) {
    const nt_flight_recorder& fr = *r.recorder;
    // Every whole event in the ring, once: whether any was a resolve, and
    // the last o.events of them.
    std::vector<nt_fr_event> ring = last_events(fr, NT_FR_RING);
    const bool any_resolve =
        std::any_of(ring.begin(), ring.end(), [](const nt_fr_event& e) { return e.type == NT_EV_RESOLVE; });
    r.last_events.assign(ring.end() - static_cast<ptrdiff_t>(std::min<size_t>(ring.size(), o.events)), ring.end());
    r.interposer_only = !any_resolve && fr.n_mappings > 0;
    Judgement j = judge(fr, core.first_tid, r.signal, r.fault_address, where);
    r.fault_class = j.fault_class;
    r.findings = std::move(j.findings);
    r.finding_text = std::move(j.finding_text);
    r.verdict = std::move(j.verdict);
    r.verdict_source = "flight recorder";
    r.recorder_explains = explaining(r.findings) < r.findings.size();
    // A recorder that explains nothing (the interposer saw no resolve, the
    // hooks missed a slot) must not hide what the loader's DWARF says.
    if (!r.recorder_explains && r.signal && o.debug_info && !r.threads.empty()) {
      r.loader_state = read_loader_state(dwfl.get(), cus, core, core.first_tid, std::move(frames));
      if (r.loader_state.found) judge_loader_state(r);
    }
  } else {
    std::string v = sig + " at " + hex(r.fault_address) + where + ".";
    v += recorder_error_sentence(r);
    v += " The program did not run under numa-trace (no flight recorder): the mappings below come from the core's "
         "NT_FILE note; which slot a tensor was resolved through, its name and the loader's offsets cannot be known "
         "without the recorder (or the loader's debug info).";
    if (!r.splits_without_mapping.empty()) {
      v += " Splits with no mapping at the crash:";
      for (int i : r.splits_without_mapping) v += " " + std::to_string(i);
      v += ".";
    }
    r.verdict = v;
    r.verdict_source = "NT_FILE only";
    // The loader's state from its DWARF, natively.
    if (o.debug_info && !r.threads.empty()) {
      r.loader_state = read_loader_state(dwfl.get(), cus, core, core.first_tid, std::move(frames));
      if (r.loader_state.found) judge_loader_state(r);
    }
  }
  return r;
}

}  // namespace numatrace::postmortem
