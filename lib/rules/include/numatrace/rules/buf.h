// A fixed-buffer text builder that is async-signal-safe (no allocation, no
// locale, no stdio), so the same wording serves the crash handler, the
// online checks and the offline tools.
#pragma once

#include <cstddef>
#include <cstdint>

namespace numatrace::rules {

class Buf {
 public:
  Buf(char* data, size_t cap) : d_(data), cap_(cap) {
    if (cap_) d_[0] = 0;
  }
  Buf& s(const char* str) {
    while (str && *str) put(*str++);
    return *this;
  }
  // At most n bytes of str (stops at NUL).
  Buf& sn(const char* str, size_t n) {
    for (size_t i = 0; str && i < n && str[i]; ++i) put(str[i]);
    return *this;
  }
  Buf& c(char ch) {
    put(ch);
    return *this;
  }
  Buf& u(uint64_t v) {
    char tmp[24];
    int n = 0;
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) put(tmp[--n]);
    return *this;
  }
  Buf& i(int64_t v) {
    if (v < 0) {
      put('-');
      return u(0 - static_cast<uint64_t>(v));
    }
    return u(static_cast<uint64_t>(v));
  }
  Buf& x(uint64_t v) {
    static constexpr char kDigits[] = "0123456789abcdef";
    char tmp[16];
    int n = 0;
    do tmp[n++] = kDigits[v & 15];
    while ((v >>= 4) != 0);
    put('0');
    put('x');
    while (n) put(tmp[--n]);
    return *this;
  }
  // A size for people: "512 bytes", "6.0 MiB", "1.5 GiB" (one decimal).
  Buf& bytes(uint64_t v) {
    static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (v < 1024) return u(v).s(" bytes");
    int k = 0;
    uint64_t scale = 1024;
    while (k < 4 && v / scale >= 1024) ++k, scale *= 1024;
    const uint64_t tenths = (v % scale * 10 + scale / 2) / scale;  // rounded
    const uint64_t whole = v / scale + tenths / 10;
    return u(whole).c('.').u(tenths % 10).c(' ').s(kUnits[k]);
  }
  const char* str() const { return d_; }
  size_t size() const { return len_; }
  bool truncated() const { return truncated_; }

 private:
  void put(char ch) {
    if (len_ + 1 < cap_) {
      d_[len_++] = ch;
      d_[len_] = 0;
    } else {
      truncated_ = true;
    }
  }
  char* d_;
  size_t cap_;
  size_t len_ = 0;
  bool truncated_ = false;
};

}  // namespace numatrace::rules
