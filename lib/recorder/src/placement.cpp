// Where a mapping's pages are (move_pages(2) in query mode) and whether a
// unified or replica mapping holds the bytes of its files (NT011).
//
// Sampling rule: at most kSamplePages pages per mapping, evenly spaced over
// it (first page included), queried in one move_pages call with nodes=NULL,
// which reports each page's node without moving it or faulting it in
// (get_mempolicy(MPOL_F_ADDR|MPOL_F_NODE) would fault pages in). Pages not
// present count as absent. Each sampled page is also credited to the file
// extent that contains it, so per-file placement costs nothing more. The
// cost is one system call and 1024 page-table lookups per mapping, whatever
// its size.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>

#include "internal.h"

namespace numatrace::rec {

namespace {

constexpr int kSamplePages = 1024;
constexpr uint64_t kPage = 4096;

void* g_pages[kSamplePages];
int g_status[kSamplePages];

void count(uint32_t (&hist)[NT_FR_MAX_NODES], uint32_t& sampled, uint32_t& absent, int status) {
  sampled++;
  if (status < 0)
    absent++;
  else
    hist[status < NT_FR_MAX_NODES ? status : NT_FR_MAX_NODES - 1]++;
}

}  // namespace

void sample_placement(int mi) {
  Recorder& r = fr();
  nt_fr_mapping& m = r.mappings[mi];
  if (!m.length) return;
  uint64_t pages = (m.length + kPage - 1) / kPage;
  uint64_t n = pages < kSamplePages ? pages : kSamplePages;
  for (uint64_t i = 0; i < n; ++i)
    g_pages[i] = reinterpret_cast<void*>((m.base & ~(kPage - 1)) + (i * pages / n) * kPage);
  if (syscall(SYS_move_pages, 0, n, g_pages, nullptr, g_status, 0) != 0) return;

  rules::begin_write(m.gen);
  m.placement_sampled = m.placement_absent = 0;
  for (auto& h : m.placement) h = 0;
  for (uint32_t k = 0; k < m.n_extents; ++k) {
    nt_fr_extent& e = r.extents[m.first_extent + k];
    e.placement_sampled = e.placement_absent = 0;
    for (auto& h : e.placement) h = 0;
  }
  for (uint64_t i = 0; i < n; ++i) {
    count(m.placement, m.placement_sampled, m.placement_absent, g_status[i]);
    uint64_t off = reinterpret_cast<uint64_t>(g_pages[i]) - m.base;
    for (uint32_t k = 0; k < m.n_extents; ++k) {
      nt_fr_extent& e = r.extents[m.first_extent + k];
      if (off >= e.offset && off - e.offset < e.length)
        count(e.placement, e.placement_sampled, e.placement_absent, g_status[i]);
    }
  }
  rules::end_write(m.gen);

  // One event for the mapping (file_idx -1), one per file extent.
  auto emit = [&](int32_t file_idx, const uint32_t(&hist)[NT_FR_MAX_NODES], uint32_t sampled, uint32_t absent) {
    uint64_t seq;
    nt_fr_event* ev = begin_event(NT_EV_PLACEMENT, seq);
    ev->slot = m.slot;
    ev->file_idx = file_idx;
    ev->mapping = static_cast<int16_t>(mi);
    ev->node = static_cast<int16_t>(m.node);
    ev->a = sampled;
    ev->b = absent;
    format::placement_encode(*ev, hist);
    publish(ev, seq);
    return seq;
  };
  uint64_t seq = emit(-1, m.placement, m.placement_sampled, m.placement_absent);
  for (uint32_t k = 0; k < m.n_extents; ++k) {
    const nt_fr_extent& e = r.extents[m.first_extent + k];
    emit(e.file_idx, e.placement, e.placement_sampled, e.placement_absent);
  }
  nt_fr_finding f;
  if (rules::check_placement(r, mi, seq, f)) raise_finding(f);
}

void sample_all_live() {
  Recorder& r = fr();
  for (uint32_t i = 0, n = rules::mapping_count(r); i < n; ++i)
    if (rules::live(r.mappings[i])) sample_placement(static_cast<int>(i));
}

// NT011: for each extent of a live unified or replica mapping, compare 17
// chunks of 4 KiB (evenly spaced, the last one included) with the file.
// The mapping is read with process_vm_readv on ourselves, which fails
// cleanly (EFAULT) instead of crashing if the range is gone.
void verify_data() {
  Recorder& r = fr();
  static char want[kPage], got[kPage];
  for (uint32_t i = 0, n = rules::mapping_count(r); i < n; ++i) {
    const nt_fr_mapping& m = r.mappings[i];
    if (!rules::live(m) || !rules::holds_files(m)) continue;
    for (uint32_t k = 0; k < m.n_extents; ++k) {
      const nt_fr_extent& e = r.extents[m.first_extent + k];
      if (e.file_idx < 0 || e.file_idx >= NT_FR_MAX_FILES || !r.files[e.file_idx].path || !e.length) continue;
      int fd = open(r.strings + r.files[e.file_idx].path, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      bool reported = false;
      for (uint64_t s = 0; s <= 16 && !reported; ++s) {
        uint64_t off = (e.length > kPage ? (e.length - kPage) * s / 16 : 0) & ~(kPage - 1);
        size_t len = static_cast<size_t>(e.length - off < kPage ? e.length - off : kPage);
        ssize_t fr_bytes = pread(fd, want, len, static_cast<off_t>(off));
        if (fr_bytes != static_cast<ssize_t>(len)) break;
        iovec local{got, len}, remote{reinterpret_cast<void*>(m.base + e.offset + off), len};
        if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != static_cast<ssize_t>(len)) break;
        if (std::memcmp(want, got, len) != 0) {
          size_t j = 0;
          while (want[j] == got[j]) ++j;
          nt_fr_finding f =
              rules::data_mismatch(static_cast<int>(i), m, e.file_idx, off + j, m.base + e.offset + off + j, r.head);
          raise_finding(f);
          reported = true;
        }
      }
      close(fd);
    }
  }
}

}  // namespace numatrace::rec
