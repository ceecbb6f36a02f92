#include "core.h"
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

// Streams a zstd frame sequence from `in` into an unlinked temporary file:
// memory stays at the codec's buffers whatever the core's size.
Result<int> decompress(int in, const std::string& path) {
  const char* dir = getenv("TMPDIR");
  int out = ::open(dir && *dir ? dir : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (out < 0) return fail(ErrorKind::io, "PM001", path, "", std::string("temporary file: ") + std::strerror(errno));
  ZSTD_DCtx* ctx = ZSTD_createDCtx();
  std::vector<char> ibuf(ZSTD_DStreamInSize()), obuf(ZSTD_DStreamOutSize());
  size_t last = 0;
  bool any = false;
  for (;;) {
    ssize_t n = read(in, ibuf.data(), ibuf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ZSTD_freeDCtx(ctx);
      ::close(out);
      return fail(ErrorKind::io, "PM001", path, "", std::string("read: ") + std::strerror(errno));
    }
    if (n == 0) break;
    any = true;
    ZSTD_inBuffer ib{ibuf.data(), static_cast<size_t>(n), 0};
    while (ib.pos < ib.size) {
      ZSTD_outBuffer ob{obuf.data(), obuf.size(), 0};
      last = ZSTD_decompressStream(ctx, &ob, &ib);
      if (ZSTD_isError(last)) {
        ZSTD_freeDCtx(ctx);
        ::close(out);
        return fail(ErrorKind::invalid, "PM006", path, "zstd", ZSTD_getErrorName(last));
      }
      if (ob.pos && write(out, obuf.data(), ob.pos) != static_cast<ssize_t>(ob.pos)) {
        ZSTD_freeDCtx(ctx);
        ::close(out);
        return fail(ErrorKind::io, "PM001", path, "",
                    std::string("writing the decompressed core: ") + std::strerror(errno));
      }
    }
  }
  ZSTD_freeDCtx(ctx);
  if (!any || last != 0) {
    // A frame that never ended: the .zst was cut short. What was
    // decompressed is still a (truncated) core.
    if (!any) {
      ::close(out);
      return fail(ErrorKind::invalid, "PM006", path, "zstd", "empty stream");
    }
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<Core>> Core::open(const std::string& path) {
  std::unique_ptr<Core> c(new Core());
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(ErrorKind::io, "PM001", path, "", std::string("open: ") + std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(ErrorKind::io, "PM001", path, "", "not a regular file");
  }
  if (is_zstd(fd)) {
    auto out = decompress(fd, path);
    ::close(fd);
    if (!out) return out.error();
    fd = *out;
    if (fstat(fd, &st) != 0) return fail(ErrorKind::io, "PM001", path, "", std::strerror(errno));
  }
  c->fd_ = fd;
  c->size_ = static_cast<uint64_t>(st.st_size);
  if (auto s = c->parse(path); !s) return s.error();
  return c;
}

Core::~Core() {
  if (elf_) elf_end(elf_);
  if (map_) munmap(const_cast<unsigned char*>(map_), size_);
  if (fd_ >= 0) ::close(fd_);
}

Status Core::parse(const std::string& path) {
  if (size_ < sizeof(Elf64_Ehdr))
    return fail(ErrorKind::invalid, "PM002", path, "header", "too short to be an ELF file");
  void* m = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
  if (m == MAP_FAILED) return fail(ErrorKind::io, "PM001", path, "", std::string("mmap: ") + std::strerror(errno));
  map_ = static_cast<const unsigned char*>(m);
  elf_version(EV_CURRENT);
  elf_ = elf_memory(reinterpret_cast<char*>(const_cast<unsigned char*>(map_)), size_);
  if (!elf_ || elf_kind(elf_) != ELF_K_ELF) return fail(ErrorKind::invalid, "PM002", path, "header", "not an ELF file");
  GElf_Ehdr eh;
  if (!gelf_getehdr(elf_, &eh)) return fail(ErrorKind::invalid, "PM002", path, "header", elf_error());
  if (eh.e_type != ET_CORE)
    return fail(ErrorKind::invalid, "PM002", path, "e_type",
                "is " + std::to_string(eh.e_type) + ", not a core (ET_CORE)");
  if (gelf_getclass(elf_) != ELFCLASS64 || eh.e_machine != EM_X86_64)
    return fail(ErrorKind::invalid, "PM004", path, "e_machine",
                "machine " + std::to_string(eh.e_machine) + " (class " + std::to_string(gelf_getclass(elf_)) +
                    "): this numa-trace reads x86-64 cores");
  size_t phnum = 0;
  if (elf_getphdrnum(elf_, &phnum) != 0) return fail(ErrorKind::invalid, "PM002", path, "e_phnum", elf_error());
  if (phnum > 1u << 20)
    return fail(ErrorKind::invalid, "PM002", path, "e_phnum", "implausible: " + std::to_string(phnum));
  for (size_t i = 0; i < phnum; ++i) {
    GElf_Phdr ph;
    if (!gelf_getphdr(elf_, static_cast<int>(i), &ph)) {
      warnings.push_back("PM003 program header " + std::to_string(i) + " unreadable (" + elf_error() +
                         "): the core is truncated or corrupt");
      break;
    }
    if (ph.p_type == PT_LOAD) {
      loads_.push_back({ph.p_vaddr, ph.p_memsz, ph.p_offset, ph.p_filesz, ph.p_flags});
      if (ph.p_filesz && (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) && warnings.size() < 4)
        warnings.push_back("PM003 the core is truncated: the segment at " + hex(ph.p_vaddr) +
                           " ends past the end of the file (the process was killed while dumping?)");
    } else if (ph.p_type == PT_NOTE) {
      if (ph.p_offset > size_ || ph.p_filesz > size_ - ph.p_offset) {
        warnings.push_back("PM003 the notes run past the end of the file: the core is truncated");
        if (ph.p_offset < size_) parse_notes(path, map_ + ph.p_offset, size_ - ph.p_offset);
      } else {
        parse_notes(path, map_ + ph.p_offset, ph.p_filesz);
      }
    }
  }
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
      warnings.push_back("PM005 a note's name runs past the notes");
      return;
    }
    size_t desc_at = name_at + name_sz, desc_sz = (nh.n_descsz + 3u) & ~3u;
    if (nh.n_descsz > size - desc_at || desc_sz > size - desc_at) {
      warnings.push_back("PM005 a note's descriptor runs past the notes (type " + std::to_string(nh.n_type) + ")");
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
        warnings.push_back("PM005 NT_FILE says " + std::to_string(count) + " files, more than its size holds");
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
            warnings.push_back("PM005 NT_FILE names run past the note");
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
