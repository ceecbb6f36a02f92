// Objects read from the core by their DWARF types: members by name, the
// definitions of declared-only types, std::unique_ptr, std::vector,
// std::string and std::map, and the loader's slots, files and weight
// (dwarf_reader.h).
#include "dwarf_reader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "numatrace/text.h"

namespace numatrace::postmortem::dw {

// -------------------------------------------------------------- types

// The definition of a type the unit at hand only declares (clang's
// -fno-standalone-debug leaves libstdc++'s types and other units' classes
// as declarations, -flto splits units by partition): first in the units of
// its class's out-of-line methods, where a pimpl's impl is defined; then in
// every unit of the loader's module.
std::optional<Dwarf_Die> Reader::find_definition(const TypeKey& k) {
  if (auto it = definitions_.find(k.key); it != definitions_.end()) return it->second;
  std::optional<Dwarf_Die> out;
  if (main_mod_) {
    std::vector<const void*> tried;  // units searched, by where their DIE lies
    const std::string p1 = k.mangled, p2 = k.mangled.empty() ? "" : "_ZNK" + k.mangled.substr(3);
    int n = k.mangled.empty() ? 0 : dwfl_module_getsymtab(main_mod_);
    for (int i = 0; i < n && !out; ++i) {
      GElf_Sym sym;
      GElf_Addr addr = 0;
      const char* s = dwfl_module_getsym_info(main_mod_, i, &sym, &addr, nullptr, nullptr, nullptr);
      if (!s || GELF_ST_TYPE(sym.st_info) != STT_FUNC || !addr ||
          !(starts_with(s, p1.c_str()) || starts_with(s, p2.c_str())))
        continue;
      CuAt at;
      if (!cus_.find(main_mod_, addr, at) || std::find(tried.begin(), tried.end(), at.cu.addr) != tried.end()) continue;
      tried.push_back(at.cu.addr);
      out = definition_in(&at.cu, "", k.key, 0);
    }
    for (Dwarf_Die cu : cus_.units(main_mod_)) {
      if (out) break;
      if (std::find(tried.begin(), tried.end(), cu.addr) == tried.end()) out = definition_in(&cu, "", k.key, 0);
    }
  }
  definitions_[k.key] = out;
  return out;
}

// A type to read at `addr`: its definition, else libstdc++'s layout.
Reader::Obj Reader::object(const TypeRef& r, uint64_t addr) {
  TypeKey k;
  if (r.has_die) {
    Dwarf_Die t = strip_cv(r.die);
    if (!declaration(&t)) return Obj{t, addr, {}};
    k = type_key(&t);
  } else {
    k.key = r.key;  // a template argument known by name only: no method prefix
  }
  if (auto d = find_definition(k)) return Obj{*d, addr, {}};
  // No unit defines it: libstdc++'s own types are read by their ABI layout
  // (see libstdcxx_layout), and the report says so; nothing else can be.
  if (libstdcxx_layout(k.key) != Abi::none) {
    note_abi(k.key);
    return Obj{{}, addr, k.key};
  }
  throw NotKnown{"the type " + k.key + " is only declared in the debug info (its definition is in no compile unit)"};
}

Reader::Obj Reader::object(Dwarf_Die t, uint64_t addr) {
  TypeRef r;
  r.die = t;
  r.has_die = true;
  return object(r, addr);
}

uint64_t Reader::size_of_ref(const TypeRef& r) {
  if (r.has_die) {
    Dwarf_Die t = strip_cv(r.die);
    if (!declaration(&t)) return size_of(&t);
  }
  if (!r.has_die && !r.key.empty() && r.key.back() == '*') return 8;
  const Obj o = object(r, 0);
  return o.abi.empty() ? size_of(const_cast<Dwarf_Die*>(&o.type)) : abi_size(libstdcxx_layout(o.abi));
}

// A data member by name: in the struct, its base classes, and (deep) the
// struct-typed members, as libstdc++ nests unique_ptr's pointer.
bool Reader::member(Dwarf_Die st, const char* name, uint64_t& off, Dwarf_Die& type, bool deep, bool want_pointer,
                    int depth) {
  if (depth > 12) return false;
  Dwarf_Die c;
  if (dwarf_child(&st, &c) != 0) return false;
  std::vector<std::pair<Dwarf_Die, uint64_t>> inner;
  do {
    int tag = dwarf_tag(&c);
    if (tag == DW_TAG_member) {
      Dwarf_Die t;
      if (!type_of(&c, &t)) continue;
      t = strip_cv(t);
      if (name_of(&c) == name && (!want_pointer || dwarf_tag(&t) == DW_TAG_pointer_type)) {
        off = member_offset(&c);
        type = t;
        return true;
      }
      if (deep && is_struct(&t)) inner.emplace_back(t, member_offset(&c));
    } else if (tag == DW_TAG_inheritance) {
      Dwarf_Die t;
      if (type_of(&c, &t)) inner.emplace_back(strip_cv(t), member_offset(&c));
    }
  } while (dwarf_siblingof(&c, &c) == 0);
  for (auto& [t, base] : inner) {
    uint64_t o = 0;
    if (member(t, name, o, type, deep, want_pointer, depth + 1)) {
      off = base + o;
      return true;
    }
  }
  return false;
}

std::optional<Reader::Obj> Reader::try_field(const Obj& o, const char* name) {
  uint64_t off = 0;
  Dwarf_Die t;
  if (!o.abi.empty() || !member(o.type, name, off, t, false, false)) return std::nullopt;
  return Obj{t, o.addr + off, {}};
}

Reader::Obj Reader::field(const Obj& o, const char* name) {
  if (auto f = try_field(o, name)) return *f;
  throw NotKnown{"no member '" + std::string(name) + "' in " +
                 (o.abi.empty() ? name_of(const_cast<Dwarf_Die*>(&o.type)) : o.abi)};
}

// A std::unique_ptr's pointer (libstdc++: _M_t ... _M_head_impl), and the
// type it points to.
uint64_t Reader::unique_ptr(const Obj& up, TypeRef* pointee) {
  if (!up.abi.empty()) {
    if (pointee) *pointee = TypeRef{{}, false, first_template_arg(up.abi)};
    return read_uint(up.addr, 8);
  }
  uint64_t off = 0;
  Dwarf_Die t;
  if (member(up.type, "_M_head_impl", off, t, true, true)) {
    if (pointee) pointee->has_die = type_of(&t, &pointee->die);
    return read_uint(up.addr + off, 8);
  }
  // A unique_ptr with the default deleter is one pointer wide.
  Dwarf_Die arg;
  if (size_of(const_cast<Dwarf_Die*>(&up.type)) != 8 || !template_arg(const_cast<Dwarf_Die*>(&up.type), &arg))
    throw NotKnown{"cannot read the unique_ptr " + name_of(const_cast<Dwarf_Die*>(&up.type))};
  if (pointee) *pointee = TypeRef{arg, true, {}};
  return read_uint(up.addr, 8);
}

// A std::vector's elements: their addresses, and their type.
std::vector<uint64_t> Reader::vector_items(const Obj& vec, TypeRef* elem, uint64_t* start_out, uint64_t* esize_out) {
  uint64_t so = 0, fo = 8;
  TypeRef e;
  if (!vec.abi.empty()) {
    e.key = first_template_arg(vec.abi);
  } else {
    Dwarf_Die t;
    if (!member(vec.type, "_M_start", so, t, true, true) || !member(vec.type, "_M_finish", fo, t, true, true))
      throw NotKnown{"no _M_start/_M_finish in " + name_of(const_cast<Dwarf_Die*>(&vec.type))};
    if (!template_arg(const_cast<Dwarf_Die*>(&vec.type), &e.die)) {
      Dwarf_Die p = strip_cv(t);
      if (!type_of(&p, &e.die)) throw NotKnown{"the element type of " + name_of(const_cast<Dwarf_Die*>(&vec.type))};
    }
    e.has_die = true;
  }
  const uint64_t esize = size_of_ref(e);
  const uint64_t start = read_uint(vec.addr + so, 8), finish = read_uint(vec.addr + fo, 8);
  if (!esize || finish < start || (finish - start) % esize || (finish - start) / esize > kMaxItems)
    throw NotKnown{"the vector at " + hex(vec.addr) + " is not consistent (begin " + hex(start) + ", end " +
                   hex(finish) + ")"};
  std::vector<uint64_t> items;
  for (uint64_t p = start; p < finish; p += esize) items.push_back(p);
  if (elem) *elem = e;
  if (start_out) *start_out = start;
  if (esize_out) *esize_out = esize;
  return items;
}

std::string Reader::std_string(const Obj& s) {
  uint64_t p = 0, len = 0;
  bool abi = !s.abi.empty();
  if (!abi) {
    try {
      const Obj f = field(s, "_M_dataplus");
      const Obj dp = object(f.type, f.addr);
      uint64_t off = 0;
      Dwarf_Die t;
      if (!member(dp.type, "_M_p", off, t, true, false)) throw NotKnown{"no _M_p in std::string"};
      p = read_uint(dp.addr + off, 8);
      len = read_uint(field(s, "_M_string_length").addr, 8);
    } catch (const NotKnown&) {
      // clang defines basic_string but only declares its _Alloc_hider
      // where libstdc++ instantiates the string itself (C++17 and before).
      const std::string key = type_key(const_cast<Dwarf_Die*>(&s.type)).key;
      if (libstdcxx_layout(key) != Abi::string) throw;
      note_abi(key);
      abi = true;
    }
  }
  if (abi) {
    p = read_uint(s.addr, 8);
    len = read_uint(s.addr + 8, 8);
  }
  if (len > kMaxString) throw NotKnown{"a string of " + std::to_string(len) + " bytes"};
  std::string out(len, '\0');
  if (len && !core_.read(p, out.data(), len)) throw NotKnown{"the string at " + hex(p) + " is not in the core"};
  return out;
}

// The impl behind `object`'s `pimpl` (llama_mmap, llama_mlock and
// llama_file keep their state there), or nullopt when the pimpl is null.
std::optional<Reader::Obj> Reader::pimpl_of(const TypeRef& cls, uint64_t object_addr) {
  const Obj o = object(cls, object_addr);
  const Obj p = field(o, "pimpl");
  TypeRef impl_t;
  const uint64_t impl = unique_ptr(object(p.type, p.addr), &impl_t);
  if (!impl) return std::nullopt;
  return object(impl_t, impl);
}

// vector<unique_ptr<llama_mmap | llama_mlock>>: each slot's impl addr/size.
void Reader::read_slots(const Obj& vec, std::vector<DebugSlot>& out, uint64_t* start, uint64_t* esize) {
  TypeRef elem;
  auto items = vector_items(vec, &elem, start, esize);
  for (size_t i = 0; i < items.size(); ++i) {
    DebugSlot s;
    s.slot = static_cast<int>(i);
    TypeRef cls;
    s.object = unique_ptr(object(elem, items[i]), &cls);
    s.empty = s.object == 0;
    if (!s.empty) {
      try {
        const auto io = pimpl_of(cls, s.object);
        if (!io) throw NotKnown{"its pimpl is null"};
        s.base = read_uint(field(*io, "addr").addr, 8);
        s.size = read_uint(field(*io, "size").addr, 8);
      } catch (const NotKnown& e) {
        s.readable = false;
        s.note = e.why;
      }
    }
    out.push_back(s);
  }
}

void Reader::read_files(const Obj& vec, std::vector<DebugFile>& out) {
  TypeRef elem;
  auto items = vector_items(vec, &elem, nullptr, nullptr);
  for (size_t i = 0; i < items.size(); ++i) {
    DebugFile f;
    f.idx = static_cast<int>(i);
    TypeRef cls;
    const uint64_t obj = unique_ptr(object(elem, items[i]), &cls);
    f.empty = obj == 0;
    if (obj) {
      if (const auto io = pimpl_of(cls, obj)) {
        f.size = read_uint(field(*io, "size").addr, 8);
        if (auto n = try_field(*io, "fname")) f.path = std_string(object(n->type, n->addr));
      }
    }
    out.push_back(f);
  }
}

void Reader::read_weight(size_t fi, Dwarf_Die* var, bool indirect, LoaderState& st) {
  Dwarf_Die wt;
  bool ind = false;
  struct_of(var, &wt, &ind);
  read_weight(object(wt, var_address(fi, var, indirect, "the weight")), st);
}

void Reader::read_weight(const Obj& w, LoaderState& st) {
  Obj idx = field(w, "idx");
  st.weight_idx = static_cast<int>(read_uint(idx.addr, std::min<uint64_t>(size_of(&idx.type), 8)));
  st.weight_offs = read_uint(field(w, "offs").addr, 8);
  Obj tp = field(w, "tensor");
  const uint64_t tensor = read_uint(tp.addr, 8);
  st.have_weight = true;
  if (!tensor) return;
  Dwarf_Die tt;
  if (!type_of(&tp.type, &tt)) return;
  Obj t = object(tt, tensor);
  try {
    st.tensor = tensor_name(t);
  } catch (const NotKnown&) {
  }
  if (auto nb = try_field(t, "nbytes")) st.tensor_bytes = read_uint(nb->addr, 8);
}

// A ggml_tensor's name (char name[GGML_MAX_NAME]).
std::string Reader::tensor_name(const Obj& t) {
  const Obj name = field(t, "name");
  char buf[256] = {};
  const uint64_t n = std::min<uint64_t>(size_of(const_cast<Dwarf_Die*>(&name.type)), sizeof buf - 1);
  if (!n || !core_.read(name.addr, buf, n))
    throw NotKnown{"the tensor's name at " + hex(name.addr) + " is not in the core"};
  return std::string(buf, strnlen(buf, n));
}

// The weight of tensor `name` in the loader's weights_map, a
// std::map<std::string, llama_tensor_weight[, comparer]>: every node of its
// red-black tree visited (libstdc++'s _Rb_tree: the header's parent is the
// root; each node a 32-byte _Rb_tree_node_base (colour, parent, left,
// right), then the key/value pair). Every node, not a search: upstream's
// comparer orders "blk.N." names by layer number.
bool Reader::weight_by_name(const std::string& name, LoaderState& st) {
  const Obj f = field(loader_, "weights_map");
  const Obj map = object(f.type, f.addr);
  uint64_t hoff = 0, coff = 0;
  Dwarf_Die t;
  if (!map.abi.empty() || !member(map.type, "_M_header", hoff, t, true, false) ||
      !member(map.type, "_M_node_count", coff, t, true, false))
    throw NotKnown{"no _M_header/_M_node_count in the loader's weights_map"};
  // The pair's two types: the map's first two template arguments.
  Dwarf_Die args[2];
  int n = 0;
  Dwarf_Die c;
  if (dwarf_child(const_cast<Dwarf_Die*>(&map.type), &c) == 0) do {
      if (dwarf_tag(&c) == DW_TAG_template_type_parameter && n < 2 && type_of(&c, &args[n])) ++n;
    } while (n < 2 && dwarf_siblingof(&c, &c) == 0);
  if (n < 2) throw NotKnown{"the weights_map's key and value types are not in its debug info"};
  const Obj key_proto = object(args[0], 0), weight_proto = object(args[1], 0);
  const uint64_t key_size = key_proto.abi.empty() ? size_of(const_cast<Dwarf_Die*>(&key_proto.type))
                                                  : abi_size(libstdcxx_layout(key_proto.abi));
  const uint64_t value_off = 32 + ((key_size + 7) & ~uint64_t{7});  // the pair after the node base; weight 8-aligned
  const uint64_t count = read_uint(map.addr + coff, 8);
  if (count > kMaxMapNodes) throw NotKnown{"the weights_map claims " + std::to_string(count) + " entries"};
  std::vector<uint64_t> todo{read_uint(map.addr + hoff + 8, 8)};
  for (uint64_t seen = 0; !todo.empty() && seen <= count;) {
    const uint64_t node = todo.back();
    todo.pop_back();
    if (!node) continue;
    ++seen;
    if (std_string(Obj{key_proto.type, node + 32, key_proto.abi}) == name) {
      read_weight(Obj{weight_proto.type, node + value_off, weight_proto.abi}, st);
      return true;
    }
    todo.push_back(read_uint(node + 16, 8));
    todo.push_back(read_uint(node + 24, 8));
  }
  return false;
}

}  // namespace numatrace::postmortem::dw
