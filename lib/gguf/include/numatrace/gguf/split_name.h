// The split files' naming convention, "<prefix>-NNNNN-of-MMMMM.gguf" (the
// split number 1-based, five digits each), parsed in one place for the
// GGUF layer, the post-mortem (NT_FILE paths) and the preload interposer,
// which runs inside the traced program: header-only, no libc, no
// allocation.
#pragma once

#include <cstddef>
#include <cstdint>

namespace numatrace::gguf {

inline constexpr char kSplitShape[] = "-00000-of-00000.gguf";  // '0': a digit
inline constexpr size_t kSplitSuffix = sizeof kSplitShape - 1;

// Of a name `n` bytes long: the 0-based split idx and the count, or false
// when the name does not end in the shape (or says split 0, or N > M).
constexpr bool parse_split_suffix(const char* name, size_t n, uint32_t& idx, uint32_t& count) {
  if (n <= kSplitSuffix) return false;
  const char* t = name + n - kSplitSuffix;
  uint32_t no = 0, of = 0;
  for (size_t i = 0; i < kSplitSuffix; ++i) {
    const bool digit_slot = kSplitShape[i] == '0';
    const bool digit = t[i] >= '0' && t[i] <= '9';
    if (digit_slot != digit || (!digit_slot && t[i] != kSplitShape[i])) return false;
    if (digit_slot) (i < 6 ? no : of) = (i < 6 ? no : of) * 10 + static_cast<uint32_t>(t[i] - '0');
  }
  if (no == 0 || no > of) return false;
  idx = no - 1;
  count = of;
  return true;
}

}  // namespace numatrace::gguf
