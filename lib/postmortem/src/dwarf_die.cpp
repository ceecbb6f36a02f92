// DIE helpers, qualified type names, the definitions of types a unit only
// declares, and libstdc++'s ABI layouts (dwarf_reader.h).
#include "dwarf_reader.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "numatrace/text.h"

namespace numatrace::postmortem::dw {

std::string name_of(Dwarf_Die* d) {
  Dwarf_Attribute a;
  const char* s = dwarf_attr_integrate(d, DW_AT_name, &a) ? dwarf_formstring(&a) : nullptr;
  return s ? s : "";
}

bool type_of(Dwarf_Die* d, Dwarf_Die* out) {
  Dwarf_Attribute a;
  return dwarf_attr_integrate(d, DW_AT_type, &a) && dwarf_formref_die(&a, out);
}

// Through typedefs and qualifiers.
Dwarf_Die strip_cv(Dwarf_Die t) {
  for (int i = 0; i < 32; ++i) {
    int tag = dwarf_tag(&t);
    if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type &&
        tag != DW_TAG_restrict_type && tag != DW_TAG_atomic_type)
      break;
    Dwarf_Die next;
    if (!type_of(&t, &next)) break;
    t = next;
  }
  return t;
}

bool is_indirect(Dwarf_Die* t) {
  int tag = dwarf_tag(t);
  return tag == DW_TAG_pointer_type || tag == DW_TAG_reference_type || tag == DW_TAG_rvalue_reference_type;
}

bool is_struct(Dwarf_Die* t) {
  int tag = dwarf_tag(t);
  return tag == DW_TAG_structure_type || tag == DW_TAG_class_type || tag == DW_TAG_union_type;
}

// The struct a variable's type names, through one pointer or reference.
bool struct_of(Dwarf_Die* var, Dwarf_Die* out, bool* indirect) {
  Dwarf_Die t;
  if (!type_of(var, &t)) return false;
  t = strip_cv(t);
  *indirect = is_indirect(&t);
  if (*indirect) {
    Dwarf_Die p;
    if (!type_of(&t, &p)) return false;
    t = strip_cv(p);
  }
  *out = t;
  return is_struct(&t);
}

bool declaration(Dwarf_Die* d) {
  Dwarf_Attribute a;
  bool flag = false;
  return dwarf_attr(d, DW_AT_declaration, &a) && dwarf_formflag(&a, &flag) == 0 && flag;
}

uint64_t size_of(Dwarf_Die* t) {
  Dwarf_Word s = 0;
  return dwarf_aggregate_size(t, &s) == 0 ? s : 0;
}

bool starts_with(const std::string& s, const char* p) {
  return s.rfind(p, 0) == 0;
}

// "ns::cls::fn(args...) const" -> "ns::cls::fn": the parameter list, found
// from its closing parenthesis, is dropped.
std::string without_parameters(const std::string& f) {
  size_t end = f.rfind(')');
  if (end == std::string::npos) return f;
  int depth = 0;
  for (size_t i = end + 1; i-- > 0;) {
    if (f[i] == ')') ++depth;
    if (f[i] == '(' && --depth == 0) return i ? f.substr(0, i) : f;
  }
  return f;
}

// The first template type parameter of a class template instance.
bool template_arg(Dwarf_Die* t, Dwarf_Die* out) {
  Dwarf_Die c;
  if (dwarf_child(t, &c) != 0) return false;
  do {
    if (dwarf_tag(&c) == DW_TAG_template_type_parameter) return type_of(&c, out);
  } while (dwarf_siblingof(&c, &c) == 0);
  return false;
}

uint64_t member_offset(Dwarf_Die* m) {
  Dwarf_Attribute a;
  Dwarf_Word off = 0;
  if (!dwarf_attr(m, DW_AT_data_member_location, &a)) return 0;  // a union member, or the first
  if (dwarf_formudata(&a, &off) != 0)
    throw Unsupported{"member '" + name_of(m) + "' has a location expression, not an offset"};
  return off;
}

std::string squeeze(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}
TypeKey type_key(Dwarf_Die* t) {
  // dwarf_getscopes_die walks the unit from its root to the DIE, and the
  // same types are asked about again and again (every variable of every
  // frame, every specification while a definition is looked up): one walk
  // per DIE, kept by its address in the mapped .debug_info.
  static std::unordered_map<const void*, TypeKey> memo;
  if (auto it = memo.find(t->addr); it != memo.end()) return it->second;
  TypeKey& k = memo[t->addr];
  Dwarf_Die* scopes = nullptr;
  const int n = dwarf_getscopes_die(t, &scopes);  // t first, the unit last
  std::string mangled = "_ZN";
  bool in_class = false, in_std = false;
  for (int i = n - 2; i >= 1; --i) {
    const int tag = dwarf_tag(&scopes[i]);
    if (tag != DW_TAG_namespace && !is_struct(&scopes[i])) continue;
    const std::string name = name_of(&scopes[i]);
    k.key += squeeze(name) + "::";
    if (tag == DW_TAG_namespace && !in_class) {
      in_std |= name == "std";
      mangled += std::to_string(name.size()) + name;
    } else if (!in_class) {
      in_class = true;
      k.cls = name;
    }
  }
  std::free(scopes);
  const std::string own = name_of(t);
  k.key += squeeze(own);
  if (!in_class) k.cls = own;
  if (!in_std && k.cls.find('<') == std::string::npos && !k.cls.empty())
    k.mangled = mangled + std::to_string(k.cls.size()) + k.cls;
  return k;
}

Abi libstdcxx_layout(const std::string& key) {
  if (starts_with(key, "std::unique_ptr<") && key.find(",std::default_delete<") != std::string::npos)
    return Abi::unique_ptr;
  if (starts_with(key, "std::vector<") && key.find(",std::allocator<") != std::string::npos) return Abi::vector;
  if (key == "std::__cxx11::basic_string<char,std::char_traits<char>,std::allocator<char>>") return Abi::string;
  return Abi::none;
}
uint64_t abi_size(Abi a) {
  return a == Abi::unique_ptr ? 8 : a == Abi::vector ? 24 : a == Abi::string ? 32 : 0;
}
// The first template argument of a type_key ("std::vector<T,...>" -> "T").
std::string first_template_arg(const std::string& key) {
  const size_t open = key.find('<');
  if (open == std::string::npos) return "";
  int depth = 0;
  for (size_t i = open + 1; i < key.size(); ++i) {
    if (key[i] == '<') ++depth;
    // The first argument ends at the top level's ',' or '>'.
    const bool end = (key[i] == ',' && depth == 0) || (key[i] == '>' && depth-- == 0);
    if (end) return key.substr(open + 1, i - open - 1);
  }
  return "";
}

// The definition of the type named `key` (type_key's form) in one unit:
// through the namespaces and classes whose names lead to it, and nested
// types defined outside their class (a top-level DIE with
// DW_AT_specification naming the declaration inside it).
std::optional<Dwarf_Die> definition_in(Dwarf_Die* parent, const std::string& prefix, const std::string& key,
                                       int depth) {
  Dwarf_Die d;
  if (depth > 16 || dwarf_child(parent, &d) != 0) return std::nullopt;
  do {
    const int tag = dwarf_tag(&d);
    if (tag != DW_TAG_namespace && !is_struct(&d)) continue;
    Dwarf_Attribute a;
    Dwarf_Die spec;
    if (tag != DW_TAG_namespace && !declaration(&d) && dwarf_attr(&d, DW_AT_specification, &a) &&
        dwarf_formref_die(&a, &spec)) {
      if (type_key(&spec).key == key) return d;
      continue;
    }
    const std::string here = prefix + squeeze(name_of(&d));
    if (tag != DW_TAG_namespace && here == key && !declaration(&d)) return d;
    if (key.size() > here.size() + 2 && key.compare(0, here.size(), here) == 0 &&
        key.compare(here.size(), 2, "::") == 0)
      if (auto r = definition_in(&d, here + "::", key, depth + 1)) return r;
  } while (dwarf_siblingof(&d, &d) == 0);
  return std::nullopt;
}

}  // namespace numatrace::postmortem::dw
