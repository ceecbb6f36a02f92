#include "core.h"
#include "numatrace/fs.h"
#include "numatrace/postmortem/codes.h"
#include "numatrace/text.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/procfs.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace numatrace::postmortem {

namespace {

Error fail(ErrorKind kind, const char* code, const std::string& path, std::string field, std::string message) {
  return Error{kind, code, path, std::move(field), std::move(message)};
}

std::string elf_error() {
  const char* m = elf_errmsg(-1);
  return m ? m : "unknown error";
}

bool is_zstd(int fd) {
  uint32_t magic = 0;
  return pread(fd, &magic, 4, 0) == 4 && magic == 0xFD2FB528u;
}

// The most a compressed core may expand to, whatever its headers say.
constexpr uint64_t kMaxDecompressed = uint64_t{64} << 30;

// The end of the data a core's ELF header and program headers declare
// (headers, notes, segments), once enough of it is decompressed into `fd`;
// 0 while unknown. A core is never longer than that, so decompression
// stops there: a small .zst cannot fill the disk with what follows.
uint64_t declared_end(int fd, uint64_t written) {
  Elf64_Ehdr eh;
  if (written < sizeof eh || pread(fd, &eh, sizeof eh, 0) != static_cast<ssize_t>(sizeof eh)) return 0;
  if (std::memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
      eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 || eh.e_phnum == PN_XNUM)
    return written;  // not a core this reader takes: parse() will say why
  const uint64_t table_end = eh.e_phoff + uint64_t{eh.e_phnum} * sizeof(Elf64_Phdr);
  if (eh.e_phoff > kMaxDecompressed || table_end > kMaxDecompressed) return written;
  if (written < table_end) return 0;
  uint64_t end = table_end;
  for (unsigned i = 0; i < eh.e_phnum; ++i) {
    Elf64_Phdr ph;
    if (pread(fd, &ph, sizeof ph, static_cast<off_t>(eh.e_phoff + i * sizeof ph)) != static_cast<ssize_t>(sizeof ph))
      return written;
    if (ph.p_offset <= kMaxDecompressed && ph.p_filesz <= kMaxDecompressed - ph.p_offset)
      end = std::max(end, ph.p_offset + ph.p_filesz);
    else
      end = kMaxDecompressed;
  }
  return end;
}

bool all_zero(const char* p, size_t n) {
  return n == 0 || (p[0] == 0 && std::memcmp(p, p + 1, n - 1) == 0);
}

// Streams a zstd frame sequence from `in` into an unlinked temporary file:
// memory stays at the codec's buffers whatever the core's size. Bounded:
// blocks of zeros become holes (no disk), and output stops at the end the
// core's own headers declare, at most kMaxDecompressed.
Result<int> decompress(int in, const std::string& path, bool& cut_short) {
  const char* dir = getenv("TMPDIR");
  int out = ::open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (out < 0) return fail(ErrorKind::io, code::io, path, "", std::string("temporary file: ") + std::strerror(errno));
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  size_t last = 0;
  bool any = false, done = false;
  uint64_t written = 0, limit = 0;  // limit: the declared end, once known
  auto failed = [&](Error e) -> Result<int> {
    ZSTD_freeDCtx(ctx);
    ::close(out);
    return e;
  };
  while (!done) {
    ssize_t n = read(in, ibuf.data(), ibuf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return failed(fail(ErrorKind::io, code::io, path, "", std::string("read: ") + std::strerror(errno)));
    if (n == 0) break;
    any = true;
    ZSTD_inBuffer ib{ibuf.data(), static_cast<size_t>(n), 0};
    while (ib.pos < ib.size && !done) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      last = ZSTD_decompressStream(ctx, &ob, &ib);
      if (ZSTD_isError(last))
        return failed(fail(ErrorKind::invalid, code::zstd, path, "zstd", ZSTD_getErrorName(last)));
      size_t take = ob.pos;
      const uint64_t cap = limit ? limit : kMaxDecompressed;
      if (written + take >= cap) {
        take = static_cast<size_t>(cap - written);
        done = true;
      }
      if (take && all_zero(obuf.data(), take)) {
        if (lseek(out, static_cast<off_t>(take), SEEK_CUR) < 0)
          return failed(fail(ErrorKind::io, code::io, path, "", std::string("lseek: ") + std::strerror(errno)));
      } else if (take && write(out, obuf.data(), take) != static_cast<ssize_t>(take)) {
        return failed(fail(ErrorKind::io, code::io, path, "",
                           std::string("writing the decompressed core: ") + std::strerror(errno)));
      }
      written += take;
      if (!limit) {
        // The header must be readable back; holes read as zeros.
        if (ftruncate(out, static_cast<off_t>(written)) != 0)
          return failed(fail(ErrorKind::io, code::io, path, "", std::string("ftruncate: ") + std::strerror(errno)));
        limit = declared_end(out, written);
        if (limit && written >= limit) done = true;
      }
    }
  }
  ZSTD_freeDCtx(ctx);
  if (!any) {
    ::close(out);
    return fail(ErrorKind::invalid, code::zstd, path, "zstd", "empty stream");
  }
  // A frame that never ended (the last ZSTD_decompressStream did not
  // return 0, and output was not stopped on purpose) is a .zst cut short:
  // what was decompressed is still a core, read as far as it goes, and the
  // caller says it was cut (PM003).
  cut_short = last != 0 && !done;
  if (ftruncate(out, static_cast<off_t>(written)) != 0) {
    ::close(out);
    return fail(ErrorKind::io, code::io, path, "", std::string("ftruncate: ") + std::strerror(errno));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Core>> Core::open(const std::string& path) {
  std::unique_ptr<Core> c(new Core());
  std::string why;
  struct stat st {};
  int fd = open_regular(path, why, &st);
  if (fd < 0) return fail(ErrorKind::io, code::io, path, "", why);
  bool cut_short = false;
  if (is_zstd(fd)) {
    auto out = decompress(fd, path, cut_short);
    ::close(fd);
    if (!out) return out.error();
    fd = *out;
    c->fd_ = fd;  // closed by ~Core from here on
    if (fstat(fd, &st) != 0) return fail(ErrorKind::io, code::io, path, "", std::strerror(errno));
  }
  c->fd_ = fd;
  c->size_ = static_cast<uint64_t>(st.st_size);
  if (auto s = c->parse(path); !s) return s.error();
  if (cut_short)
    c->warnings.insert(c->warnings.begin(),
                       Warning{code::truncated, "the .zst stream ends inside a frame: the core was cut short"});
  return c;
}

Core::~Core() {
  if (elf_) elf_end(elf_);
  if (map_) munmap(const_cast<unsigned char*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

Status Core::parse(const std::string& path) {
  if (size_ < sizeof(Elf64_Ehdr))
    return fail(ErrorKind::invalid, code::not_core, path, "header", "too short to be an ELF file");
  void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (m == MAP_FAILED) return fail(ErrorKind::io, code::io, path, "", std::string("mmap: ") + std::strerror(errno));
  map_ = static_cast<const unsigned char*>(m);
  elf_version(EV_CURRENT);
  elf_ = elf_memory(reinterpret_cast<char*>(const_cast<unsigned char*>(map_)), size_);
  if (!elf_ || elf_kind(elf_) != ELF_K_ELF)
    return fail(ErrorKind::invalid, code::not_core, path, "header", "not an ELF file");
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf_, &eh)) return fail(ErrorKind::invalid, code::not_core, path, "header", elf_error());
  if (eh.e_type != ET_CORE)
    return fail(ErrorKind::invalid, code::not_core, path, "e_type",
                "is " + std::to_string(eh.e_type) + ", not a core (ET_CORE)");
  if (gelf_getclass(elf_) != ELFCLASS64 || eh.e_machine != EM_X86_64)
    return fail(ErrorKind::invalid, code::architecture, path, "e_machine",
                "machine " + std::to_string(eh.e_machine) + " (class " + std::to_string(gelf_getclass(elf_)) +
                    "): this numa-trace reads x86-64 cores");
  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) != 0)
    return fail(ErrorKind::invalid, code::not_core, path, "e_phnum",
                "the program header table cannot be read (" + elf_error() + "): e_phoff or e_phnum is damaged");
  if (phnum > 1u << 20)
    return fail(ErrorKind::invalid, code::not_core, path, "e_phnum", "implausible: " + std::to_string(phnum));
  if (phnum == 0)
    return fail(ErrorKind::invalid, code::not_core, path, "e_phnum",
                "is 0: a core has program headers for its notes and memory (damaged header?)");
  size_t notes = 0;
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf_, static_cast<int>(i), &ph)) {
      if (i == 0)
        return fail(ErrorKind::invalid, code::not_core, path, "e_phoff",
                    "program headers unreadable (" + elf_error() + "): the header is damaged or the file truncated");
      warnings.push_back({code::truncated, "program header " + std::to_string(i) + " unreadable (" + elf_error() +
                                               "): the core is truncated or corrupt"});
      break;
    }
    if (ph.p_type == PT_LOAD) {
      loads_.push_back({ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, ph.p_flags});
      if (ph.p_filesz && (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) && warnings.size() < 4)
        warnings.push_back(
            {code::truncated, "the core is truncated: the segment at " + hex(ph.p_vaddr) +
                                  " ends past the end of the file (the process was killed while dumping?)"});
    } else if (ph.p_type == PT_NOTE) {
      ++notes;
      if (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) {
        warnings.push_back({code::truncated, "the notes run past the end of the file: the core is truncated"});
        if (ph.p_offset < size_) parse_notes(path, map_ + ph.p_offset, size_ - ph.p_offset);
      } else {
        parse_notes(path, map_ + ph.p_offset, ph.p_filesz);
      }
    }
  }
  if (notes == 0)
    return fail(ErrorKind::invalid, code::not_core, path, "PT_NOTE",
                "the core has no notes segment (no threads, signal or mapped files): damaged program headers");
  if (execfn_addr_) {
    char buf[4096];
    size_t len = 0;
    while (len < sizeof buf - 1 && read(execfn_addr_ + len, buf + len, 1) && buf[len]) ++len;
    execfn.assign(buf, len);
  }
  return ok_status();
}

void Core::parse_notes(const std::string& path, const unsigned char* data, size_t size) {
  (void)path;
  size_t at = 0;
  bool first_status = true;
  while (size - at >= sizeof(Elf64_Nhdr)) {
    Elf64_Nhdr nh;
    std::memcpy(&nh, data + at, sizeof nh);
    size_t name_at = at + sizeof nh, name_sz = (nh.n_namesz + 3u) & ~3u;
    if (name_sz > size - name_at) {
      warnings.push_back({code::corrupt_notes, "a note's name runs past the notes"});
      return;
    }
    size_t desc_at = name_at + name_sz, desc_sz = (nh.n_descsz + 3u) & ~3u;
    if (nh.n_descsz > size - desc_at || desc_sz > size - desc_at) {
      warnings.push_back(
          {code::corrupt_notes, "a note's descriptor runs past the notes (type " + std::to_string(nh.n_type) + ")"});
      return;
    }
    const unsigned char* d = data + desc_at;
    const size_t n = nh.n_descsz;
    bool core_note = nh.n_namesz == 5 && std::memcmp(data + name_at, "CORE", 5) == 0;
    if (core_note && nh.n_type == NT_PRSTATUS && n >= sizeof(struct elf_prstatus) && first_status) {
      struct elf_prstatus st;
      std::memcpy(&st, d, sizeof st);
      first_tid = st.pr_pid;
      if (!signal) signal = st.pr_cursig;
      first_status = false;
    } else if (core_note && nh.n_type == NT_SIGINFO && n >= 24) {
      int32_t signo, code;
      std::memcpy(&signo, d, 4);
      std::memcpy(&code, d + 8, 4);
      std::memcpy(&fault_address, d + 16, 8);
      signal = signo;
      si_code = code;
      have_siginfo = true;
    } else if (core_note && nh.n_type == NT_AUXV) {
      for (size_t k = 0; k + 16 <= n; k += 16) {
        uint64_t type, value;
        std::memcpy(&type, d + k, 8);
        std::memcpy(&value, d + k + 8, 8);
        if (type == AT_EXECFN) execfn_addr_ = value;  // read once every segment is known
      }
    } else if (core_note && nh.n_type == NT_FILE && n >= 16) {
      uint64_t count, page;
      std::memcpy(&count, d, 8);
      std::memcpy(&page, d + 8, 8);
      if (count > (n - 16) / 24) {
        warnings.push_back(
            {code::corrupt_notes, "NT_FILE says " + std::to_string(count) + " files, more than its size holds"});
      } else {
        const unsigned char* names = d + 16 + count * 24;
        size_t left = n - 16 - count * 24;
        for (uint64_t k = 0; k < count; ++k) {
          MappedFile f;
          uint64_t pgoff;
          std::memcpy(&f.start, d + 16 + k * 24, 8);
          std::memcpy(&f.end, d + 16 + k * 24 + 8, 8);
          std::memcpy(&pgoff, d + 16 + k * 24 + 16, 8);
          f.file_offset = pgoff * page;
          const void* nul = std::memchr(names, 0, left);
          if (!nul) {
            warnings.push_back({code::corrupt_notes, "NT_FILE names run past the note"});
            break;
          }
          size_t len = static_cast<size_t>(static_cast<const unsigned char*>(nul) - names);
          f.path.assign(reinterpret_cast<const char*>(names), len);
          names += len + 1;
          left -= len + 1;
          nt_file.push_back(std::move(f));
        }
      }
    }
    at = desc_at + desc_sz;
  }
}

const unsigned char* Core::view(uint64_t addr, size_t len) const {
  for (const auto& s : loads_) {
    if (addr < s.vaddr || addr - s.vaddr >= s.memsz) continue;
    uint64_t off = addr - s.vaddr;
    if (off > s.filesz || len > s.filesz - off) return nullptr;            // not dumped (e.g. MADV_DONTDUMP) or partial
    if (s.offset > size_ || off + len > size_ - s.offset) return nullptr;  // truncated core
    return map_ + s.offset + off;
  }
  return nullptr;
}

bool Core::read(uint64_t addr, void* out, size_t len) const {
  // Piecewise: an object can span two segments (a library's .bss starts in
  // the last file-backed page of .data and continues in anonymous memory).
  auto* dst = static_cast<unsigned char*>(out);
  while (len > 0) {
    const Segment* seg = nullptr;
    for (const auto& s : loads_)
      if (addr >= s.vaddr && addr - s.vaddr < s.memsz) seg = &s;
    if (!seg) return false;
    uint64_t off = addr - seg->vaddr;
    size_t n = static_cast<size_t>(std::min<uint64_t>(len, seg->memsz - off));
    const unsigned char* p = view(addr, n);
    if (!p) return false;
    std::memcpy(dst, p, n);
    dst += n;
    addr += n;
    len -= n;
  }
  return true;
}

}  // namespace numatrace::postmortem
