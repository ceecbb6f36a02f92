#include "numatrace/gguf/reader.h"
#include "numatrace/fs.h"
#include "numatrace/text.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <unordered_set>

#include "numatrace/gguf/codes.h"
#include "numatrace/gguf/model.h"

namespace numatrace::gguf {

// ---------------------------------------------------------------- MappedFile

Result<MappedFile> MappedFile::open(const std::string& path) {
  auto io_error = [&](const char* call) {
    return Error{ErrorKind::io, std::string(code::io), path, "", std::string(call) + ": " + std::strerror(errno)};
  };
  std::string why;
  struct stat st {};
  int fd = open_regular(path, why, &st);
  if (fd < 0) return Error{ErrorKind::io, std::string(code::io), path, "", why};
  if (st.st_size == 0) {
    ::close(fd);
    return MappedFile(nullptr, 0);
  }
  void* addr = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
  if (addr == MAP_FAILED) {
    auto e = io_error("mmap");
    ::close(fd);
    return e;
  }
  ::close(fd);
  return MappedFile(addr, static_cast<size_t>(st.st_size));
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : addr_(std::exchange(o.addr_, nullptr)), size_(std::exchange(o.size_, 0)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (addr_) ::munmap(addr_, size_);
    addr_ = std::exchange(o.addr_, nullptr);
    size_ = std::exchange(o.size_, 0);
  }
  return *this;
}

MappedFile::~MappedFile() {
  if (addr_) ::munmap(addr_, size_);
}

// -------------------------------------------------------------------- parser

namespace {

// Smallest encoding of each value type, used to bound counts by the bytes
// that remain before anything is allocated.
uint64_t min_value_bytes(ValueType t) {
  switch (t) {
    case ValueType::u8:
    case ValueType::i8:
    case ValueType::boolean: return 1;
    case ValueType::u16:
    case ValueType::i16: return 2;
    case ValueType::u32:
    case ValueType::i32:
    case ValueType::f32: return 4;
    case ValueType::u64:
    case ValueType::i64:
    case ValueType::f64:
    case ValueType::string: return 8;  // a string: its u64 length first
    case ValueType::array: return 12;
  }
  return 1;
}

class Parser {
 public:
  Parser(std::span<const std::byte> bytes, const std::string& path) : b_(bytes), path_(path) {}

  Result<FileInfo> run();

 private:
  Error fail(std::string_view code, std::string field, std::string message) const {
    return Error{ErrorKind::invalid, std::string(code), path_, std::move(field), std::move(message)};
  }
  uint64_t remaining() const { return b_.size() - pos_; }

  // Reads `n` raw bytes; false (and err_ set) when they are not there.
  bool need(uint64_t n, const std::string& field) {
    if (n > remaining()) {
      err_ = fail(code::truncated, field,
                  "needs " + std::to_string(n) + " bytes at offset " + hex(pos_) + ", the file has " +
                      std::to_string(b_.size()) + " bytes");
      return false;
    }
    return true;
  }
  template <class T>
  bool read(T& out, const std::string& field) {
    if (!need(sizeof(T), field)) return false;
    std::memcpy(&out, b_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return true;
  }
  bool read_string(std::string& out, const std::string& field, size_t max_len) {
    uint64_t len = 0;
    // The field's name is built only on failure: strings are read per array
    // element, and building a name each time made parsing quadratic.
    if (remaining() < sizeof len) return need(sizeof len, field + ".length");
    read(len, field);
    if (len > remaining()) {
      err_ = fail(code::string, field,
                  "string length " + std::to_string(len) + " at offset " + hex(pos_ - 8) + " runs past the end (" +
                      std::to_string(remaining()) + " bytes left)");
      return false;
    }
    if (len > max_len) {
      err_ = fail(code::string, field, "length " + std::to_string(len) + " exceeds " + std::to_string(max_len));
      return false;
    }
    out.assign(reinterpret_cast<const char*>(b_.data() + pos_), len);
    pos_ += len;
    return true;
  }
  bool read_value(ValueType type, Value& out, const std::string& field, bool in_array);

  std::span<const std::byte> b_;
  const std::string& path_;
  uint64_t pos_ = 0;
  std::optional<Error> err_;
};

bool Parser::read_value(ValueType type, Value& out, const std::string& field, bool in_array) {
  out.type = type;
  switch (type) {
    case ValueType::u8: {
      uint8_t v;
      if (!read(v, field)) return false;
      out.data = uint64_t{v};
      return true;
    }
    case ValueType::i8: {
      int8_t v;
      if (!read(v, field)) return false;
      out.data = int64_t{v};
      return true;
    }
    case ValueType::u16: {
      uint16_t v;
      if (!read(v, field)) return false;
      out.data = uint64_t{v};
      return true;
    }
    case ValueType::i16: {
      int16_t v;
      if (!read(v, field)) return false;
      out.data = int64_t{v};
      return true;
    }
    case ValueType::u32: {
      uint32_t v;
      if (!read(v, field)) return false;
      out.data = uint64_t{v};
      return true;
    }
    case ValueType::i32: {
      int32_t v;
      if (!read(v, field)) return false;
      out.data = int64_t{v};
      return true;
    }
    case ValueType::u64: {
      uint64_t v;
      if (!read(v, field)) return false;
      out.data = v;
      return true;
    }
    case ValueType::i64: {
      int64_t v;
      if (!read(v, field)) return false;
      out.data = v;
      return true;
    }
    case ValueType::f32: {
      float v;
      if (!read(v, field)) return false;
      out.data = double{v};
      return true;
    }
    case ValueType::f64: {
      double v;
      if (!read(v, field)) return false;
      out.data = v;
      return true;
    }
    case ValueType::boolean: {
      uint8_t v;
      if (!read(v, field)) return false;
      out.data = v != 0;
      return true;
    }
    case ValueType::string: {
      std::string s;
      if (!read_string(s, field, std::numeric_limits<size_t>::max())) return false;
      out.data = std::move(s);
      return true;
    }
    case ValueType::array: {
      if (in_array) {
        err_ = fail(code::value_type, field, "arrays of arrays are not supported");
        return false;
      }
      uint32_t et = 0;
      uint64_t n = 0;
      if (!read(et, field + ".type") || !read(n, field + ".count")) return false;
      if (et >= kValueTypeCount || static_cast<ValueType>(et) == ValueType::array) {
        err_ = fail(code::value_type, field + ".type",
                    et == static_cast<uint32_t>(ValueType::array) ? "arrays of arrays are not supported"
                                                                  : "unknown array element type " + std::to_string(et));
        return false;
      }
      auto elem = static_cast<ValueType>(et);
      if (n > remaining() / min_value_bytes(elem)) {
        err_ = fail(code::count, field + ".count",
                    std::to_string(n) + " elements of " + std::string(value_type_name(elem)) + " cannot fit in the " +
                        std::to_string(remaining()) + " bytes left");
        return false;
      }
      Array a;
      a.element_type = elem;
      a.items.reserve(static_cast<size_t>(n));
      for (uint64_t i = 0; i < n; ++i) {
        Value v;
        // Elements are read under the array's field; an error gets the
        // element's index afterwards (a name per element made parsing time
        // grow as key length x element count).
        if (!read_value(elem, v, field, true)) {
          if (err_ && err_->field.compare(0, field.size(), field) == 0)
            err_->field.insert(field.size(), "[" + std::to_string(i) + "]");
          return false;
        }
        a.items.push_back(std::move(v));
      }
      out.data = std::move(a);
      return true;
    }
  }
  err_ = fail(code::value_type, field, "unknown value type " + std::to_string(static_cast<uint32_t>(type)));
  return false;
}

Result<FileInfo> Parser::run() {
  FileInfo f;
  f.path = path_;
  f.file_size = b_.size();
#define NT_TRY(expr) \
  if (!(expr)) return *err_

  uint32_t magic = 0;
  NT_TRY(read(magic, "header.magic"));
  if (magic != kMagic)
    return fail(code::magic, "header.magic", "is " + hex(magic) + ", expected 0x46554747 (\"GGUF\")");
  NT_TRY(read(f.version, "header.version"));
  if (f.version < 2 || f.version > 3)
    return fail(code::version, "header.version",
                "is " + std::to_string(f.version) + "; only versions 2 and 3 are supported" +
                    (f.version == 1 ? " (version 1 is the obsolete 32-bit-count format)" : ""));
  int64_t n_tensors = 0, n_kv = 0;
  NT_TRY(read(n_tensors, "header.tensor_count"));
  NT_TRY(read(n_kv, "header.kv_count"));
  // A tensor info takes at least 24 bytes (name length, n_dims, type,
  // offset), a key/value at least 13 (key length, type, one byte).
  if (n_tensors < 0 || static_cast<uint64_t>(n_tensors) > remaining() / 24)
    return fail(code::count, "header.tensor_count",
                std::to_string(n_tensors) + " tensors cannot fit in the " + std::to_string(remaining()) +
                    " bytes after the header (count corrupt, or file truncated)");
  if (n_kv < 0 || static_cast<uint64_t>(n_kv) > remaining() / 13)
    return fail(code::count, "header.kv_count",
                std::to_string(n_kv) + " key/value pairs cannot fit in the " + std::to_string(remaining()) +
                    " bytes after the header (count corrupt, or file truncated)");

  f.kvs.reserve(static_cast<size_t>(n_kv));
  std::unordered_set<std::string_view> keys;
  for (int64_t i = 0; i < n_kv; ++i) {
    std::string field = "kv[" + std::to_string(i) + "]";
    KeyValue kv;
    NT_TRY(read_string(kv.key, field + ".key", std::numeric_limits<size_t>::max()));
    field += " '" + kv.key + "'";
    uint32_t type = 0;
    NT_TRY(read(type, field + ".type"));
    if (type >= kValueTypeCount)
      return fail(code::value_type, field + ".type", "unknown value type " + std::to_string(type));
    NT_TRY(read_value(static_cast<ValueType>(type), kv.value, field, false));
    f.kvs.push_back(std::move(kv));
  }
  for (const auto& kv : f.kvs)
    if (!keys.insert(kv.key).second)
      return fail(code::duplicate_key, "kv '" + kv.key + "'", "key appears more than once");

  if (const Value* a = f.find(kKeyAlignment)) {
    auto v = a->as_int();
    if (a->type != ValueType::u32)
      return fail(code::alignment, "kv 'general.alignment'",
                  "has type " + std::string(value_type_name(a->type)) + ", expected u32");
    if (!v || *v == 0 || (*v & (*v - 1)) != 0)
      return fail(code::alignment, "kv 'general.alignment'", std::to_string(v.value_or(0)) + " is not a power of two");
    f.alignment = static_cast<uint32_t>(*v);
  }

  f.tensors.reserve(static_cast<size_t>(n_tensors));
  for (int64_t i = 0; i < n_tensors; ++i) {
    std::string field = "tensor[" + std::to_string(i) + "]";
    TensorInfo t;
    NT_TRY(read_string(t.name, field + ".name", kMaxNameLength));
    field += " '" + t.name + "'";
    NT_TRY(read(t.n_dims, field + ".n_dims"));
    if (t.n_dims > kMaxDims)
      return fail(code::dims, field + ".n_dims", std::to_string(t.n_dims) + " exceeds the maximum of 4");
    for (uint32_t d = 0; d < t.n_dims; ++d) {
      NT_TRY(read(t.ne[d], field + ".ne[" + std::to_string(d) + "]"));
      if (t.ne[d] < 0)
        return fail(code::dims, field + ".ne[" + std::to_string(d) + "]", std::to_string(t.ne[d]) + " is negative");
    }
    int32_t type = 0;
    NT_TRY(read(type, field + ".type"));
    auto traits = type_traits(type);
    if (!traits) return fail(code::tensor_type, field + ".type", "unknown ggml type " + std::to_string(type));
    t.type = static_cast<GgmlType>(type);
    NT_TRY(read(t.offset, field + ".offset"));
    if (t.ne[0] % traits->block_elements != 0)
      return fail(code::block, field + ".ne[0]",
                  std::to_string(t.ne[0]) + " is not a multiple of " + std::string(traits->name) + "'s block of " +
                      std::to_string(traits->block_elements));
    auto size = tensor_bytes(t.type, t.ne);
    if (!size) return fail(code::dims, field + ".ne", "the byte size overflows");
    t.size = *size;
    f.tensors.push_back(std::move(t));
  }

  // Names are unique within a file (checked before offsets, which a
  // duplicated entry would also upset).
  {
    std::unordered_set<std::string_view> names;
    for (size_t i = 0; i < f.tensors.size(); ++i)
      if (!names.insert(f.tensors[i].name).second)
        return fail(code::duplicate_tensor, "tensor[" + std::to_string(i) + "] '" + f.tensors[i].name + "'",
                    "name appears more than once in this file");
  }

  f.data_offset = align_up(pos_, f.alignment);
  if (!f.tensors.empty() && f.data_offset > b_.size())
    return fail(code::truncated, "data",
                "the data section starts at " + hex(f.data_offset) + ", past the end of the " +
                    std::to_string(b_.size()) + "-byte file");
  const uint64_t data_size = b_.size() > f.data_offset ? b_.size() - f.data_offset : 0;

  // Bounds first: everything later may assume each tensor lies in the file.
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& t = f.tensors[i];
    std::string field = "tensor[" + std::to_string(i) + "] '" + t.name + "'";
    if (t.offset > data_size || t.size > data_size - t.offset)
      return fail(code::bounds, field + ".offset",
                  "data at " + hex(f.data_offset) + "+" + hex(t.offset) + " with " + std::to_string(t.size) +
                      " bytes ends past the end of the " + std::to_string(b_.size()) + "-byte file");
  }
  // Overlap: sort by offset and compare neighbours.
  {
    std::vector<size_t> order(f.tensors.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f.tensors[a].offset < f.tensors[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const auto& prev = f.tensors[order[k - 1]];
      const auto& cur = f.tensors[order[k]];
      if (prev.size > 0 && cur.offset < prev.offset + prev.size)
        return fail(code::overlap, "tensor[" + std::to_string(order[k]) + "] '" + cur.name + "'.offset",
                    hex(cur.offset) + " lies inside '" + prev.name + "' (" + hex(prev.offset) + ".." +
                        hex(prev.offset + prev.size) + ")");
    }
  }
  // The loader's rule: each offset is the running sum of the previous
  // tensors' sizes, each padded to the alignment.
  uint64_t expected = 0;
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& t = f.tensors[i];
    if (t.offset != expected)
      return fail(
          code::offset, "tensor[" + std::to_string(i) + "] '" + t.name + "'.offset",
          "is " + hex(t.offset) + ", expected " + hex(expected) + " (the padded running sum of the sizes before it)");
    expected += align_up(t.size, f.alignment);
  }
#undef NT_TRY
  return f;
}

}  // namespace

Result<FileInfo> parse(std::span<const std::byte> bytes, const std::string& path) {
  return Parser(bytes, path).run();
}

Result<FileInfo> read_file(const std::string& path) {
  auto m = MappedFile::open(path);
  if (!m) return m.error();
  return parse(m->bytes(), path);
}

}  // namespace numatrace::gguf
