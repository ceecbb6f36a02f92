// Small text helpers shared by the offline libraries and tools (not for
// in-process code, which formats with numatrace/rules/buf.h).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace numatrace {

// "0x1a40"
inline std::string hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

// The last component of a path.
inline std::string base_name(const std::string& path) {
  auto s = path.rfind('/');
  return s == std::string::npos ? path : path.substr(s + 1);
}

// The folder a path names a file in: "." for a bare name, "/" at the root.
inline std::string dir_name(const std::string& path) {
  auto s = path.rfind('/');
  return s == std::string::npos ? "." : s == 0 ? "/" : path.substr(0, s);
}

}  // namespace numatrace
