#include "numatrace/gguf/writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "numatrace/gguf/codes.h"
#include "numatrace/gguf/model.h"

namespace numatrace::gguf {

namespace {

class Out {
 public:
  explicit Out(std::vector<std::byte>& b) : b_(b) {}
  template <class T>
  void put(T v) {
    raw(&v, sizeof(T));
  }
  void str(std::string_view s) {
    put<uint64_t>(s.size());
    raw(s.data(), s.size());
  }
  // resize + memcpy rather than insert(): GCC 12 warns falsely
  // (-Wstringop-overflow) on range insert into an empty vector.
  void raw(const void* p, size_t n) {
    if (n == 0) return;
    size_t at = b_.size();
    b_.resize(at + n);
    std::memcpy(b_.data() + at, p, n);
  }
  void value(const Value& v) {
    switch (v.type) {
      case ValueType::u8: put(static_cast<uint8_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::i8: put(static_cast<int8_t>(std::get<int64_t>(v.data))); break;
      case ValueType::u16: put(static_cast<uint16_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::i16: put(static_cast<int16_t>(std::get<int64_t>(v.data))); break;
      case ValueType::u32: put(static_cast<uint32_t>(std::get<uint64_t>(v.data))); break;
      case ValueType::i32: put(static_cast<int32_t>(std::get<int64_t>(v.data))); break;
      case ValueType::u64: put(std::get<uint64_t>(v.data)); break;
      case ValueType::i64: put(std::get<int64_t>(v.data)); break;
      case ValueType::f32: put(static_cast<float>(std::get<double>(v.data))); break;
      case ValueType::f64: put(std::get<double>(v.data)); break;
      case ValueType::boolean: put(static_cast<uint8_t>(std::get<bool>(v.data) ? 1 : 0)); break;
      case ValueType::string: str(std::get<std::string>(v.data)); break;
      case ValueType::array: {
        const auto& a = std::get<Array>(v.data);
        put(static_cast<uint32_t>(a.element_type));
        put<uint64_t>(a.items.size());
        for (const auto& item : a.items) value(item);
        break;
      }
    }
  }

 private:
  std::vector<std::byte>& b_;
};

Error write_error(const std::string& path, const char* call) {
  return Error{ErrorKind::io, std::string(code::io), path, "", std::string(call) + ": " + std::strerror(errno)};
}

bool write_all(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

// Header with general.alignment added when it is not the default, padded.
std::vector<std::byte> padded_header(const FileSpec& spec, const std::vector<RawTensorInfo>& infos) {
  std::vector<KeyValue> kvs = spec.kvs;
  bool has_alignment = false;
  for (const auto& kv : kvs) has_alignment |= kv.key == kKeyAlignment;
  if (!has_alignment && spec.alignment != kDefaultAlignment)
    kvs.push_back({std::string(kKeyAlignment), Value::of(ValueType::u32, spec.alignment)});
  auto header = serialize_header(3, kvs, infos);
  header.resize(align_up(header.size(), spec.alignment), std::byte{0});
  return header;
}

// Streams the data section: each tensor's bytes, then zero padding.
template <class Sink>
bool emit_data(const FileSpec& spec, const FillFn& fill, Sink&& sink) {
  constexpr size_t kChunk = 1 << 20;
  std::vector<std::byte> chunk;
  for (size_t i = 0; i < spec.tensors.size(); ++i) {
    // layout_tensors() has checked every size already.
    uint64_t size = tensor_bytes(spec.tensors[i]).value();
    for (uint64_t off = 0; off < size; off += kChunk) {
      chunk.resize(static_cast<size_t>(std::min<uint64_t>(kChunk, size - off)));
      fill(spec.tensors[i], off, chunk);
      if (!sink(chunk.data(), chunk.size())) return false;
    }
    // Every tensor is padded, the last one too, as ggml's writer does.
    if (uint64_t pad = align_up(size, spec.alignment) - size; pad > 0) {
      chunk.assign(static_cast<size_t>(pad), std::byte{0});
      if (!sink(chunk.data(), chunk.size())) return false;
    }
  }
  return true;
}

}  // namespace

std::optional<uint64_t> tensor_bytes(const TensorSpec& t) {
  if (t.ne.empty() || t.ne.size() > kMaxDims) return std::nullopt;
  std::array<int64_t, kMaxDims> ne{1, 1, 1, 1};
  std::copy(t.ne.begin(), t.ne.end(), ne.begin());
  return tensor_bytes(t.type, ne);
}

std::vector<std::byte> serialize_header(uint32_t version, std::span<const KeyValue> kvs,
                                        std::span<const RawTensorInfo> tensors) {
  std::vector<std::byte> b;
  Out o(b);
  o.put(kMagic);
  o.put(version);
  o.put<int64_t>(static_cast<int64_t>(tensors.size()));
  o.put<int64_t>(static_cast<int64_t>(kvs.size()));
  for (const auto& kv : kvs) {
    o.str(kv.key);
    o.put(static_cast<uint32_t>(kv.value.type));
    o.value(kv.value);
  }
  for (const auto& t : tensors) {
    o.str(t.name);
    o.put<uint32_t>(static_cast<uint32_t>(t.ne.size()));
    for (auto d : t.ne) o.put(d);
    o.put(t.type);
    o.put(t.offset);
  }
  return b;
}

Result<std::vector<RawTensorInfo>> layout_tensors(const FileSpec& spec) {
  if (spec.alignment == 0 || (spec.alignment & (spec.alignment - 1)) != 0)
    return Error{ErrorKind::invalid, std::string(code::alignment), "", "alignment",
                 std::to_string(spec.alignment) + " is not a power of two"};
  std::vector<RawTensorInfo> infos;
  uint64_t offset = 0;
  for (const auto& t : spec.tensors) {
    if (t.ne.empty() || t.ne.size() > kMaxDims)
      return Error{ErrorKind::invalid, std::string(code::dims), "", "tensor '" + t.name + "'",
                   "needs 1 to 4 dimensions"};
    if (t.name.size() > kMaxNameLength)
      return Error{ErrorKind::invalid, std::string(code::string), "", "tensor '" + t.name + "'",
                   "name longer than 63 bytes"};
    auto size = tensor_bytes(t);
    if (!size)
      return Error{ErrorKind::invalid, std::string(code::block), "", "tensor '" + t.name + "'",
                   "dimensions do not fit the type's block size"};
    infos.push_back({t.name, t.ne, static_cast<int32_t>(t.type), offset});
    offset += align_up(*size, spec.alignment);
  }
  return infos;
}

Result<uint64_t> write_file(const std::string& path, const FileSpec& spec, const FillFn& fill) {
  auto infos = layout_tensors(spec);
  if (!infos) {
    Error e = infos.error();
    e.where = path;
    return e;
  }
  auto header = padded_header(spec, *infos);
  // A new file only: never through a symlink or into a file planted at the
  // path (O_EXCL also refuses a dangling symlink).
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return write_error(path, "open");
  uint64_t total = 0;
  auto sink = [&](const std::byte* p, size_t n) {
    total += n;
    return write_all(fd, p, n);
  };
  bool ok = sink(header.data(), header.size()) && emit_data(spec, fill, sink);
  if (!ok) {
    auto e = write_error(path, "write");
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) return write_error(path, "close");
  return total;
}

Result<std::vector<std::byte>> write_memory(const FileSpec& spec, const FillFn& fill) {
  auto infos = layout_tensors(spec);
  if (!infos) return infos.error();
  auto out = padded_header(spec, *infos);
  emit_data(spec, fill, [&](const std::byte* p, size_t n) {
    out.insert(out.end(), p, p + n);
    return true;
  });
  return out;
}

}  // namespace numatrace::gguf
