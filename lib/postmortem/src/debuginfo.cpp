// The loader's state from DWARF alone, with libdw (see debuginfo.h).
//
// 1. The crashing thread's frames, captured during analyze()'s stack walk:
//    the pc and the registers the unwinder knows (dwfl_frame_reg: all of
//    them in the innermost frame, the callee-saved ones further out; others
//    recovered from the callee's CFI where libdwfl leaves them unknown).
// 2. In each frame, innermost first, the variables in scope at the pc
//    (concrete scopes, inlined calls included) are searched for a
//    llama_model_loader (by type, or a struct holding one), a
//    llama_tensor_weight (`weight` / `w`), the mlock slots and a `mapping`
//    reference.
// 3. A variable's location is evaluated by a small DWARF stack machine:
//    registers, frame base and CFA (CFI), memory from the core, location
//    lists, DW_OP_entry_value through the caller's DW_TAG_call_site
//    parameters. Anything else is "unsupported" and the caller asks gdb.
// 4. Members are found by name, through base classes, in the defining
//    compile unit for pimpl types the loader's unit only declares (found
//    through the symbols of the owner's out-of-line methods).
#include "debuginfo.h"

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "numatrace/text.h"

namespace numatrace::postmortem {

namespace {

constexpr unsigned kRegs = kDwarfRegs;
const char* const kRegNames[kRegs] = {"rax", "rdx", "rcx", "rbx", "rsi", "rdi", "rbp", "rsp", "r8",
                                      "r9",  "r10", "r11", "r12", "r13", "r14", "r15", "rip"};

// The x86-64 psABI's call-preserved registers: rbx, rbp, rsp, r12-r15.
constexpr bool kCallPreserved[kRegs] = {false, false, false, true, false, false, true, true, false,
                                        false, false, false, true, true,  true,  true, false};

std::string reg_name(unsigned r) {
  return r < kRegs ? kRegNames[r] : "register " + std::to_string(r);
}

// A value the DWARF says exists but the core cannot give: optimized out
// at this pc, a register the unwinder cannot recover, memory not dumped.
struct NotKnown {
  std::string why;
};
// DWARF this evaluator does not handle: the caller falls back to gdb.
struct Unsupported {
  std::string why;
};

// ------------------------------------------------------------ DIE helpers

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

// A type's name qualified by the namespaces and classes that hold it,
// without spaces (gcc writes "foo<bar> >", clang "foo<bar>>"); in `cls`
// the outermost class around it (itself when none), in `mangled` the
// symbol prefix of that class's methods ("" when it is a template or
// inside std).
struct TypeKey {
  std::string key, cls, mangled;
};
std::string squeeze(std::string s) {
  s.erase(std::remove(s.begin(), s.end(), ' '), s.end());
  return s;
}
TypeKey type_key(Dwarf_Die* t) {
  TypeKey k;
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

// libstdc++'s layouts, for the few of its types a post-mortem reads, used
// only where no unit of the module defines the type (clang leaves
// std::string a declaration: libstdc++ instantiates it, and clang assumes
// the definition is in libstdc++'s own debug info). The C++11 ABI
// (_GLIBCXX_USE_CXX11_ABI=1, the default since GCC 5) on LP64, unchanged
// through GCC 14:
//   std::unique_ptr<T, std::default_delete<T>>  T* at 0 (8 bytes)
//   std::vector<T, std::allocator<T>>           T* begin at 0, end at 8, capacity end at 16 (24 bytes)
//   std::__cxx11::basic_string<char>            char* at 0, size_t length at 8 (32 bytes)
enum class Abi { none, unique_ptr, vector, string };
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
    if (key[i] == '<')
      ++depth;
    else if (key[i] == '>' && depth-- == 0)
      return key.substr(open + 1, i - open - 1);
    else if (key[i] == ',' && depth == 0)
      return key.substr(open + 1, i - open - 1);
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

// ------------------------------------------------------------ the reader

class Reader {
 public:
  Reader(Dwfl* dwfl, CuIndex& cus, const Core& core, ThreadFrames threads)
      : dwfl_(dwfl), cus_(cus), core_(core), threads_(std::move(threads)) {}

  LoaderState run(int tid);

 private:
  struct Loc {
    bool in_memory = true;  // an address; else `v` is the value itself
    uint64_t v = 0;
  };
  struct Obj {
    Dwarf_Die type;  // complete, through typedefs and qualifiers (unset when abi is)
    uint64_t addr;
    std::string abi;  // a libstdc++ type no unit defines, read by its ABI layout: its type_key
  };
  struct FrameInfo {
    Dwfl_Module* mod = nullptr;
    Dwarf_Addr bias = 0;
    std::vector<Dwarf_Die> scopes;       // innermost first, the compile unit last
    std::vector<std::string> functions;  // each scope's function (inlined or not)
    std::string function;                // the innermost one
    bool runtime = false;                // a C/C++ runtime module: not read
    bool split_missing = false;          // its unit is a skeleton whose .dwo/.dwp was not found
  };

  uint64_t pc_of(size_t fi) const {
    const FrameRegs& f = (*frames_)[fi];
    return fi == 0 || f.activation ? f.pc : f.pc - 1;  // inside the call, not after it
  }
  FrameInfo& info(size_t fi);
  uint64_t reg(size_t fi, unsigned r);
  uint64_t cfa(size_t fi);
  uint64_t frame_base(size_t fi);
  uint64_t entry_value(size_t fi, unsigned r);
  Loc eval(size_t fi, Dwarf_Attribute* attr, const Dwarf_Op* ops, size_t n);
  Loc location(size_t fi, Dwarf_Die* var);
  uint64_t read_uint(uint64_t addr, size_t len);
  uint64_t var_address(size_t fi, Dwarf_Die* var, bool indirect, const std::string& what);

  // A type by its DIE, or by name only (a template argument of a type
  // read by its libstdc++ layout).
  struct TypeRef {
    Dwarf_Die die{};
    bool has_die = false;
    std::string key;  // type_key's form, when !has_die
  };
  Obj object(const TypeRef& t, uint64_t addr);
  Obj object(Dwarf_Die t, uint64_t addr);
  uint64_t size_of_ref(const TypeRef& t);
  std::optional<Dwarf_Die> find_definition(const TypeKey& k);
  bool member(Dwarf_Die st, const char* name, uint64_t& off, Dwarf_Die& type, bool deep, bool want_pointer,
              int depth = 0);
  Obj field(const Obj& o, const char* name);
  std::optional<Obj> try_field(const Obj& o, const char* name);
  uint64_t unique_ptr(const Obj& up, TypeRef* pointee);
  std::vector<uint64_t> vector_items(const Obj& vec, TypeRef* elem, uint64_t* start, uint64_t* esize);
  std::string std_string(const Obj& s);
  void read_slots(const Obj& vec, std::vector<DebugSlot>& out, uint64_t* start = nullptr, uint64_t* esize = nullptr);
  void read_files(const Obj& vec, std::vector<DebugFile>& out);
  void read_weight(size_t fi, Dwarf_Die* var, bool indirect, LoaderState& st);
  void read_weight(const Obj& w, LoaderState& st);
  std::string tensor_name(const Obj& tensor);
  bool weight_by_name(const std::string& name, LoaderState& st);

  // A variable or parameter of struct type (through one pointer or
  // reference) in scope in a frame.
  struct Var {
    Dwarf_Die die, type;
    bool indirect;
    std::string name, type_name, function;  // function: of its scope
    std::string of_thread;                  // " of thread N" when not the crashing one
    std::string where() const {
      return "`" + name + "` in frame #" + std::to_string(frame) + " " + function + of_thread;
    }
    size_t frame;
  };
  // Calls fn(var) for each, innermost scope first, until it returns true.
  template <class Fn>
  bool each_var(size_t fi, Fn&& fn) {
    FrameInfo& f = info(fi);
    for (size_t s = 0; s < f.scopes.size(); ++s) {
      Var v{};
      if (dwarf_child(&f.scopes[s], &v.die) != 0) continue;
      do {
        int tag = dwarf_tag(&v.die);
        if (tag != DW_TAG_variable && tag != DW_TAG_formal_parameter) continue;
        if (s + 1 < f.scopes.size()) ++vars_seen_;  // a function's own, not the unit's globals
        if (!struct_of(&v.die, &v.type, &v.indirect)) continue;
        v.name = name_of(&v.die);
        v.type_name = name_of(&v.type);
        v.function = f.functions[s];
        v.frame = fi;
        v.of_thread = of_thread_;
        if (fn(v)) return true;
      } while (dwarf_siblingof(&v.die, &v.die) == 0);
    }
    return false;
  }

  Dwfl* dwfl_;
  CuIndex& cus_;
  const Core& core_;
  ThreadFrames threads_;
  std::vector<FrameRegs>* frames_ = nullptr;  // the thread read now
  std::string of_thread_;                     // " of thread N" when not the crashing one
  // Reads thread `ti` of threads_ from now on.
  void use_thread(size_t ti, int crashed_tid) {
    frames_ = &threads_[ti].second;
    info_.clear();
    of_thread_ = threads_[ti].first == crashed_tid ? "" : " of thread " + std::to_string(threads_[ti].first);
  }
  bool find_loader(LoaderState& st, std::vector<std::string>& lacking, std::string& loader_why);
  std::map<size_t, FrameInfo> info_;
  std::map<std::string, std::optional<Dwarf_Die>> definitions_;  // by type_key
  std::vector<std::string> abi_used_;                            // libstdc++ types read by their ABI layout
  void note_abi(const std::string& key) {
    if (std::find(abi_used_.begin(), abi_used_.end(), key) == abi_used_.end()) abi_used_.push_back(key);
  }
  size_t vars_seen_ = 0;                    // functions' variables and parameters met
  Dwfl_Module* main_mod_ = nullptr;         // the module of the loader frame
  Obj loader_{};                            // the llama_model_loader, once found
  uint64_t map_start_ = 0, map_esize_ = 0;  // the loader's mappings vector
  std::vector<std::string> how_;            // entry values used by the last evaluation
  std::string how() {
    std::string s;
    for (const auto& h : how_) s += (s.empty() ? " (" : "; ") + h;
    how_.clear();
    return s.empty() ? s : s + ")";
  }
};

}  // namespace

// (dwarf_getscopes continues an inlined call with its abstract origin's
// scopes, not with the function it was inlined into.)
bool concrete_scopes(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain, int depth) {
  Dwarf_Die c;
  if (depth > 64 || dwarf_child(parent, &c) != 0) return false;
  do {
    int tag = dwarf_tag(&c);
    if (tag == DW_TAG_namespace) {
      if (concrete_scopes(&c, pc, chain, depth + 1)) return true;
    } else if ((tag == DW_TAG_subprogram || tag == DW_TAG_lexical_block || tag == DW_TAG_inlined_subroutine) &&
               dwarf_haspc(&c, pc) == 1) {
      chain.push_back(c);
      concrete_scopes(&c, pc, chain, depth + 1);
      return true;
    }
  } while (dwarf_siblingof(&c, &c) == 0);
  return false;
}

std::string demangle(const char* name) {
  if (!name) return {};
  int status = 0;
  char* d = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && d ? d : name;
  std::free(d);
  return out;
}

std::string qualified_name(Dwarf_Die* d, bool parameters) {
  Dwarf_Attribute a;
  const char* link = nullptr;
  if (dwarf_attr_integrate(d, DW_AT_linkage_name, &a) || dwarf_attr_integrate(d, DW_AT_MIPS_linkage_name, &a))
    link = dwarf_formstring(&a);
  if (link) {
    const std::string out = demangle(link);
    return parameters ? out : without_parameters(out);
  }
  // No linkage name (internal linkage, or a function only ever inlined):
  // the declaration's name, qualified by the scopes that hold it.
  Dwarf_Die decl = *d, next;
  for (int i = 0; i < 8; ++i) {
    if ((dwarf_attr(&decl, DW_AT_abstract_origin, &a) || dwarf_attr(&decl, DW_AT_specification, &a)) &&
        dwarf_formref_die(&a, &next))
      decl = next;
    else
      break;
  }
  std::string name = name_of(&decl);
  if (name.empty()) return name;
  Dwarf_Die* scopes = nullptr;
  int n = dwarf_getscopes_die(&decl, &scopes);
  for (int i = 1; i < n; ++i) {
    int tag = dwarf_tag(&scopes[i]);
    if (tag == DW_TAG_subprogram) {  // a local class's (a lambda's) function
      name = qualified_name(&scopes[i], false) + "::" + name;
      break;
    }
    if (tag != DW_TAG_namespace && !is_struct(&scopes[i])) continue;
    std::string outer = name_of(&scopes[i]);
    if (outer.empty()) outer = tag == DW_TAG_namespace ? "(anonymous namespace)" : "{lambda}";
    name = outer + "::" + name;
  }
  std::free(scopes);
  return name;
}

namespace {

std::string function_name(Dwarf_Die* d) {
  return qualified_name(d, false);
}

Reader::FrameInfo& Reader::info(size_t fi) {
  auto it = info_.find(fi);
  if (it != info_.end()) return it->second;
  FrameInfo& f = info_[fi];
  const uint64_t pc = pc_of(fi);
  f.mod = dwfl_addrmodule(dwfl_, pc);
  if (!f.mod) return f;
  // The loader is never in the C or C++ runtime: its DWARF is not opened.
  const char* file = nullptr;
  const char* name = dwfl_module_info(f.mod, nullptr, nullptr, nullptr, nullptr, nullptr, &file, nullptr);
  if (runtime_module(base_name(file ? file : name ? name : ""))) {
    f.runtime = true;
    return f;
  }
  if (CuAt at; cus_.find(f.mod, pc, at)) {
    f.bias = at.bias;
    f.split_missing = at.split_missing;
    std::vector<Dwarf_Die> chain;
    concrete_scopes(&at.cu, pc - f.bias, chain, 0);
    f.scopes.assign(chain.rbegin(), chain.rend());
    f.scopes.push_back(at.cu);
  }
  // Each scope's function: the nearest inlined call or subprogram outward.
  f.functions.assign(f.scopes.size(), std::string());
  std::string outer;
  for (size_t i = f.scopes.size(); i-- > 0;) {
    int tag = dwarf_tag(&f.scopes[i]);
    if (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine) outer = function_name(&f.scopes[i]);
    f.functions[i] = outer;
  }
  f.function = f.functions.empty() ? std::string() : f.functions[0];
  return f;
}

uint64_t Reader::reg(size_t fi, unsigned r) {
  if (r < kRegs && ((*frames_)[fi].known >> r & 1)) return (*frames_)[fi].reg[r];
  // libdwfl leaves some registers of outer frames unknown that the callee's
  // CFI does give (same value, or saved in its frame): one unwinding step
  // for this register.
  if (fi > 0 && r < kRegs && r != 16) {
    FrameInfo& c = info(fi - 1);
    for (int pass = 0; pass < 2 && c.mod; ++pass) {
      Dwarf_Addr bias = 0;
      Dwarf_CFI* cfi = pass == 0 ? dwfl_module_eh_cfi(c.mod, &bias) : dwfl_module_dwarf_cfi(c.mod, &bias);
      Dwarf_Frame* frame = nullptr;
      if (!cfi || dwarf_cfi_addrframe(cfi, pc_of(fi - 1) - bias, &frame) != 0) continue;
      Dwarf_Op mem[3];
      Dwarf_Op* ops = nullptr;
      size_t n = 0;
      const int rc = dwarf_frame_register(frame, static_cast<int>(r), mem, &ops, &n);
      std::vector<Dwarf_Op> copy(ops && n ? ops : mem, ops && n ? ops + n : mem);
      std::free(frame);
      if (rc != 0) continue;
      uint64_t v = 0;
      if (n == 0 && ops == nullptr) {
        v = reg(fi - 1, r);  // same value: not changed by the callee
      } else if (n == 0) {
        // Undefined: clobbered by the call; except the psABI's
        // call-preserved registers, which elfutils' defaults get wrong
        // for rbx (see capture_frame) and which no compiler marks undefined.
        if (!kCallPreserved[r]) break;
        v = reg(fi - 1, r);
      } else {
        Loc l = eval(fi - 1, nullptr, copy.data(), copy.size());
        v = l.in_memory ? read_uint(l.v, 8) : l.v;
      }
      (*frames_)[fi].reg[r] = v;
      (*frames_)[fi].known |= 1u << r;
      return v;
    }
  }
  throw NotKnown{"its value is in " + reg_name(r) +
                 (fi ? ", which the unwinder cannot recover in an outer frame (not saved across the call)"
                     : ", which the core does not hold")};
}

uint64_t Reader::cfa(size_t fi) {
  FrameInfo& f = info(fi);
  const uint64_t pc = pc_of(fi);
  for (int pass = 0; pass < 2 && f.mod; ++pass) {
    Dwarf_Addr bias = 0;
    Dwarf_CFI* cfi = pass == 0 ? dwfl_module_eh_cfi(f.mod, &bias) : dwfl_module_dwarf_cfi(f.mod, &bias);
    Dwarf_Frame* frame = nullptr;
    if (!cfi || dwarf_cfi_addrframe(cfi, pc - bias, &frame) != 0) continue;
    Dwarf_Op* ops = nullptr;
    size_t n = 0;
    if (dwarf_frame_cfa(frame, &ops, &n) == 0 && n > 0) {
      try {
        Loc l = eval(fi, nullptr, ops, n);
        std::free(frame);
        return l.v;
      } catch (...) {
        std::free(frame);
        throw;
      }
    }
    std::free(frame);
  }
  // The CFA is the caller's stack pointer before the call.
  if (fi + 1 < frames_->size()) return reg(fi + 1, 7);
  throw NotKnown{"no call frame information for the frame at " + hex((*frames_)[fi].pc)};
}

uint64_t Reader::frame_base(size_t fi) {
  FrameInfo& f = info(fi);
  for (int i = 0; i < static_cast<int>(f.scopes.size()); ++i) {
    if (dwarf_tag(&f.scopes[i]) != DW_TAG_subprogram) continue;
    Dwarf_Attribute a;
    if (!dwarf_attr(&f.scopes[i], DW_AT_frame_base, &a)) break;
    Dwarf_Op* ops = nullptr;
    size_t n = 0;
    if (dwarf_getlocation_addr(&a, pc_of(fi) - f.bias, &ops, &n, 1) <= 0) break;
    return eval(fi, &a, ops, n).v;
  }
  throw NotKnown{"the function has no frame base at this pc"};
}

// DW_OP_entry_value(reg): the register's value when the function was
// entered, which DWARF gives through the caller's call-site parameters.
uint64_t Reader::entry_value(size_t fi, unsigned r) {
  const std::string what = "DW_OP_entry_value(" + reg_name(r) + ")";
  if (fi + 1 >= frames_->size()) throw NotKnown{what + ": there is no caller frame"};
  const size_t ci = fi + 1;
  FrameInfo& c = info(ci);
  const uint64_t ret = (*frames_)[ci].pc - c.bias;  // the call's return address
  for (int i = 0; i < static_cast<int>(c.scopes.size()); ++i) {
    Dwarf_Die d;
    if (dwarf_child(&c.scopes[i], &d) != 0) continue;
    do {
      int tag = dwarf_tag(&d);
      if (tag != DW_TAG_call_site && tag != DW_TAG_GNU_call_site) continue;
      Dwarf_Attribute a;
      Dwarf_Addr at = 0;
      if (!(dwarf_attr(&d, DW_AT_call_return_pc, &a) || dwarf_attr(&d, DW_AT_low_pc, &a)) ||
          dwarf_formaddr(&a, &at) != 0 || at != ret)
        continue;
      Dwarf_Die p;
      if (dwarf_child(&d, &p) != 0) break;
      do {
        int ptag = dwarf_tag(&p);
        if (ptag != DW_TAG_call_site_parameter && ptag != DW_TAG_GNU_call_site_parameter) continue;
        Dwarf_Attribute la, va;
        Dwarf_Op* ops = nullptr;
        size_t n = 0;
        if (!dwarf_attr(&p, DW_AT_location, &la) || dwarf_getlocation(&la, &ops, &n) != 0 || n != 1) continue;
        unsigned pr = ops[0].atom == DW_OP_regx ? static_cast<unsigned>(ops[0].number)
                      : ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31
                          ? static_cast<unsigned>(ops[0].atom - DW_OP_reg0)
                          : ~0u;
        if (pr != r) continue;
        if (!(dwarf_attr(&p, DW_AT_call_value, &va) || dwarf_attr(&p, DW_AT_GNU_call_site_value, &va)))
          throw NotKnown{what + ": the call site in " + c.function + " does not say what it passed"};
        Dwarf_Op* vops = nullptr;
        size_t vn = 0;
        if (dwarf_getlocation(&va, &vops, &vn) != 0) throw Unsupported{what + ": unreadable DW_AT_call_value"};
        const uint64_t v = eval(ci, &va, vops, vn).v;
        how_.push_back(what + " from the call site in " + c.function);
        return v;
      } while (dwarf_siblingof(&p, &p) == 0);
      throw NotKnown{what + ": the call site in " + c.function + " has no parameter for " + reg_name(r)};
    } while (dwarf_siblingof(&d, &d) == 0);
  }
  throw NotKnown{what + ": no DW_TAG_call_site for the return address " + hex((*frames_)[ci].pc) + " in " +
                 (c.function.empty() ? std::string("the caller") : c.function)};
}

uint64_t Reader::read_uint(uint64_t addr, size_t len) {
  uint64_t v = 0;
  if (len > 8 || !core_.read(addr, &v, len)) throw NotKnown{"memory at " + hex(addr) + " is not in the core"};
  return v;
}

Reader::Loc Reader::eval(size_t fi, Dwarf_Attribute* attr, const Dwarf_Op* ops, size_t n) {
  std::vector<uint64_t> st;
  auto pop = [&] {
    if (st.empty()) throw Unsupported{"DWARF expression pops an empty stack"};
    uint64_t v = st.back();
    st.pop_back();
    return v;
  };
  auto need = [&](size_t k) {
    if (st.size() < k) throw Unsupported{"DWARF expression pops an empty stack"};
  };
  const Dwarf_Addr bias = info(fi).bias;
  for (size_t i = 0; i < n; ++i) {
    const Dwarf_Op& op = ops[i];
    const uint8_t a = op.atom;
    if (a >= DW_OP_lit0 && a <= DW_OP_lit31) {
      st.push_back(a - DW_OP_lit0);
    } else if (a >= DW_OP_reg0 && a <= DW_OP_reg31) {
      Loc l{false, reg(fi, a - DW_OP_reg0)};
      if (i + 1 < n && ops[i + 1].atom != DW_OP_piece) throw Unsupported{"DW_OP_reg followed by more operations"};
      return l;
    } else if (a == DW_OP_regx) {
      return Loc{false, reg(fi, static_cast<unsigned>(op.number))};
    } else if (a >= DW_OP_breg0 && a <= DW_OP_breg31) {
      st.push_back(reg(fi, a - DW_OP_breg0) + static_cast<int64_t>(op.number));
    } else {
      switch (a) {
        case DW_OP_addr: st.push_back(op.number + bias); break;
        case DW_OP_const1u:
        case DW_OP_const2u:
        case DW_OP_const4u:
        case DW_OP_const8u:
        case DW_OP_constu:
        case DW_OP_const1s:
        case DW_OP_const2s:
        case DW_OP_const4s:
        case DW_OP_const8s:
        case DW_OP_consts: st.push_back(op.number); break;
        case DW_OP_bregx:
          st.push_back(reg(fi, static_cast<unsigned>(op.number)) + static_cast<int64_t>(op.number2));
          break;
        case DW_OP_fbreg: st.push_back(frame_base(fi) + static_cast<int64_t>(op.number)); break;
        case DW_OP_call_frame_cfa: st.push_back(cfa(fi)); break;
        case DW_OP_plus_uconst:
          need(1);
          st.back() += op.number;
          break;
        case DW_OP_dup:
          need(1);
          st.push_back(st.back());
          break;
        case DW_OP_drop: pop(); break;
        case DW_OP_over:
          need(2);
          st.push_back(st[st.size() - 2]);
          break;
        case DW_OP_pick:
          need(op.number + 1);
          st.push_back(st[st.size() - 1 - op.number]);
          break;
        case DW_OP_swap:
          need(2);
          std::swap(st[st.size() - 1], st[st.size() - 2]);
          break;
        case DW_OP_rot:
          need(3);
          std::rotate(st.end() - 3, st.end() - 1, st.end());
          break;
        case DW_OP_deref: st.push_back(read_uint(pop(), 8)); break;
        case DW_OP_deref_size: st.push_back(read_uint(pop(), static_cast<size_t>(op.number))); break;
        case DW_OP_neg:
          need(1);
          st.back() = -st.back();
          break;
        case DW_OP_not:
          need(1);
          st.back() = ~st.back();
          break;
        case DW_OP_abs:
          need(1);
          st.back() = static_cast<uint64_t>(std::llabs(static_cast<int64_t>(st.back())));
          break;
        case DW_OP_plus:
        case DW_OP_minus:
        case DW_OP_mul:
        case DW_OP_and:
        case DW_OP_or:
        case DW_OP_xor:
        case DW_OP_shl:
        case DW_OP_shr:
        case DW_OP_shra:
        case DW_OP_div:
        case DW_OP_mod: {
          uint64_t b = pop(), x = pop();
          if ((a == DW_OP_div || a == DW_OP_mod) && b == 0) throw NotKnown{"division by zero in a DWARF expression"};
          st.push_back(a == DW_OP_plus    ? x + b
                       : a == DW_OP_minus ? x - b
                       : a == DW_OP_mul   ? x * b
                       : a == DW_OP_and   ? x & b
                       : a == DW_OP_or    ? x | b
                       : a == DW_OP_xor   ? x ^ b
                       : a == DW_OP_shl   ? x << (b & 63)
                       : a == DW_OP_shr   ? x >> (b & 63)
                       : a == DW_OP_shra  ? static_cast<uint64_t>(static_cast<int64_t>(x) >> (b & 63))
                       : a == DW_OP_div   ? static_cast<uint64_t>(static_cast<int64_t>(x) / static_cast<int64_t>(b))
                                          : x % b);
          break;
        }
        case DW_OP_nop: break;
        case DW_OP_stack_value: return Loc{false, pop()};
        case DW_OP_piece:
          // The first piece of a composite: enough when it is the whole
          // pointer or integer this reader wants.
          if (op.number < 8)
            throw Unsupported{"a composite location (DW_OP_piece) of " + std::to_string(op.number) + " bytes"};
          return Loc{true, pop()};
        case DW_OP_implicit_value: {
          Dwarf_Block b;
          if (!attr || dwarf_getlocation_implicit_value(attr, &op, &b) != 0 || b.length > 8)
            throw Unsupported{"DW_OP_implicit_value"};
          uint64_t v = 0;
          std::memcpy(&v, b.data, b.length);
          return Loc{false, v};
        }
        case DW_OP_entry_value:
        case DW_OP_GNU_entry_value: {
          Dwarf_Attribute sub;
          Dwarf_Op* sops = nullptr;
          size_t sn = 0;
          if (!attr || dwarf_getlocation_attr(attr, &op, &sub) != 0 || dwarf_getlocation(&sub, &sops, &sn) != 0 ||
              sn != 1)
            throw Unsupported{"DW_OP_entry_value of an expression other than a register"};
          unsigned r = sops[0].atom == DW_OP_regx ? static_cast<unsigned>(sops[0].number)
                       : sops[0].atom >= DW_OP_reg0 && sops[0].atom <= DW_OP_reg31
                           ? static_cast<unsigned>(sops[0].atom - DW_OP_reg0)
                           : ~0u;
          if (r == ~0u) throw Unsupported{"DW_OP_entry_value of an expression other than a register"};
          st.push_back(entry_value(fi, r));
          break;
        }
        case DW_OP_implicit_pointer:
        case DW_OP_GNU_implicit_pointer: throw Unsupported{"DW_OP_implicit_pointer"};
        default: {
          char buf[32];
          std::snprintf(buf, sizeof buf, "0x%02x", a);
          throw Unsupported{std::string("DWARF operation ") + buf};
        }
      }
    }
  }
  if (st.empty()) throw NotKnown{"it is optimized out (an empty location)"};
  return Loc{true, st.back()};
}

Reader::Loc Reader::location(size_t fi, Dwarf_Die* var) {
  Dwarf_Attribute a;
  if (dwarf_attr(var, DW_AT_const_value, &a)) {
    Dwarf_Word v = 0;
    if (dwarf_formudata(&a, &v) == 0) return Loc{false, v};
    throw Unsupported{"DW_AT_const_value as a block"};
  }
  if (!dwarf_attr(var, DW_AT_location, &a)) throw NotKnown{"it is optimized out (no location)"};
  Dwarf_Op* ops = nullptr;
  size_t n = 0;
  int got = dwarf_getlocation_addr(&a, pc_of(fi) - info(fi).bias, &ops, &n, 1);
  if (got < 0) throw Unsupported{std::string("location list: ") + dwarf_errmsg(-1)};
  if (got == 0 || n == 0) throw NotKnown{"it is optimized out at this pc"};
  return eval(fi, &a, ops, n);
}

// The address of the object a variable holds or points to.
uint64_t Reader::var_address(size_t fi, Dwarf_Die* var, bool indirect, const std::string& what) {
  Loc l = location(fi, var);
  if (!indirect) {
    if (!l.in_memory) throw Unsupported{what + " is held in a register, not in memory"};
    return l.v;
  }
  return l.in_memory ? read_uint(l.v, 8) : l.v;
}

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
  if (!esize || finish < start || (finish - start) % esize || (finish - start) / esize > 4096)
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
  if (len > 4096) throw NotKnown{"a string of " + std::to_string(len) + " bytes"};
  std::string out(len, '\0');
  if (len && !core_.read(p, out.data(), len)) throw NotKnown{"the string at " + hex(p) + " is not in the core"};
  return out;
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
        Obj o = object(cls, s.object);
        TypeRef impl_t;
        Obj p = field(o, "pimpl");
        const uint64_t impl = unique_ptr(object(p.type, p.addr), &impl_t);
        if (!impl) throw NotKnown{"its pimpl is null"};
        Obj io = object(impl_t, impl);
        s.base = read_uint(field(io, "addr").addr, 8);
        s.size = read_uint(field(io, "size").addr, 8);
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
      Obj o = object(cls, obj);
      TypeRef impl_t;
      const Obj p = field(o, "pimpl");
      const uint64_t impl = unique_ptr(object(p.type, p.addr), &impl_t);
      if (impl) {
        Obj io = object(impl_t, impl);
        f.size = read_uint(field(io, "size").addr, 8);
        if (auto n = try_field(io, "fname")) f.path = std_string(object(n->type, n->addr));
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
  if (count > (1u << 20)) throw NotKnown{"the weights_map claims " + std::to_string(count) + " entries"};
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

// The loader in the thread read now: the innermost frame with a variable
// of its type (or of a type holding one as a member). Modules of frames
// whose DWARF could not give scopes go to `lacking`, with why, and the
// first reason a loader in scope could not be read to `loader_why`.
bool Reader::find_loader(LoaderState& st, std::vector<std::string>& lacking, std::string& loader_why) {
  for (size_t fi = 0; fi < frames_->size() && !st.found; ++fi) {
    FrameInfo& f = info(fi);
    if (f.mod && !f.runtime) {
      const bool units = cus_.has_units(f.mod);
      st.any_dwarf |= units;
      // (A unit without variables, -g1, is said below from vars_seen_.)
      const char* why = f.split_missing     ? "split DWARF: its .dwo files or .dwp package were not found beside it"
                        : !f.scopes.empty() ? nullptr
                        : units             ? "no compile unit covers the frame's code"
                                            : "no debug info (DWARF)";
      if (why) {
        const char* name = dwfl_module_info(f.mod, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr, nullptr);
        const std::string n = base_name(name ? name : "?") + " (" + why + ")";
        if (std::find(lacking.begin(), lacking.end(), n) == lacking.end()) lacking.push_back(n);
      }
    }
    each_var(fi, [&](Var& v) {
      uint64_t inner = 0;
      bool holder = false;
      if (v.type_name != "llama_model_loader") {
        // A wrapper with a llama_model_loader member.
        Dwarf_Die c;
        if (declaration(&v.type) || dwarf_child(&v.type, &c) != 0) return false;
        do {
          Dwarf_Die mt;
          if (dwarf_tag(&c) == DW_TAG_member && type_of(&c, &mt) && (mt = strip_cv(mt), true) &&
              name_of(&mt) == "llama_model_loader" && is_struct(&mt)) {
            inner = member_offset(&c);
            holder = true;
            v.type = mt;
            break;
          }
        } while (dwarf_siblingof(&c, &c) == 0);
        if (!holder) return false;
      }
      main_mod_ = f.mod;
      st.in_scope = true;
      try {
        how_.clear();
        Obj loader = object(v.type, var_address(fi, &v.die, v.indirect, "the loader") + inner);
        const std::string via = how();
        if (loader.addr < 4096) throw NotKnown{"it is null"};
        st.loader = loader.addr;
        st.frame_index = static_cast<int>(fi);
        st.frame = v.function;
        st.loader_from = "`" + v.name + "`" + (holder ? " (holding the loader)" : "") + " in frame #" +
                         std::to_string(fi) + " " + v.function + of_thread_ + via;
        loader_ = loader;
        const Obj maps = field(loader, "mappings"), files = field(loader, "files");
        read_slots(object(maps.type, maps.addr), st.mappings, &map_start_, &map_esize_);
        read_files(object(files.type, files.addr), st.files);
        if (auto m = try_field(loader, "mlocks")) {
          read_slots(object(m->type, m->addr), st.mlocks);
          st.have_mlocks = true;
        }
        st.found = true;
        const char* mainfile = nullptr;
        const char* debugfile = nullptr;
        dwfl_module_info(f.mod, nullptr, nullptr, nullptr, nullptr, nullptr, &mainfile, &debugfile);
        st.debug_file = debugfile ? debugfile : mainfile ? mainfile : "";
      } catch (const NotKnown& e) {
        if (loader_why.empty()) loader_why = v.where() + ": " + e.why;
        st.mappings.clear();
        st.files.clear();
        st.mlocks.clear();
      }
      return st.found;
    });
  }
  return st.found;
}

LoaderState Reader::run(int tid) {
  LoaderState st;
  st.source = "libdw";
  st.tid = tid;
  std::vector<std::string> lacking;  // said when no loader is found: what to add to the build
  std::string loader_why, weight_why;
  size_t crashed = threads_.size();
  for (size_t ti = 0; ti < threads_.size(); ++ti)
    if (threads_[ti].first == tid) crashed = ti;
  if (crashed == threads_.size()) {
    st.why = "the crashing thread could not be unwound";
    return st;
  }
  use_thread(crashed, tid);
  if (find_loader(st, lacking, loader_why)) {
    st.loader_tid = tid;
  } else {
    // Where the crashing thread's frames lost it (inlined and optimized
    // out, as -flto leaves load_all_data's `this`), the loader may still be
    // a caller's local in another thread, in memory.
    for (size_t ti = 0; ti < threads_.size() && !st.found; ++ti) {
      if (ti == crashed) continue;
      use_thread(ti, tid);
      // (What other threads' modules lack is not the user's problem.)
      std::vector<std::string> ignored_modules;
      std::string ignored;
      if (find_loader(st, ignored_modules, ignored)) st.loader_tid = threads_[ti].first;
    }
    use_thread(crashed, tid);
  }
  if (!st.found) {
    std::string modules;
    for (const auto& n : lacking) modules += (modules.empty() ? "" : ", ") + n;
    st.why = !loader_why.empty() ? "the loader could not be read: " + loader_why
                                 : "no frame of any thread has a llama_model_loader in scope";
    if (loader_why.empty() && !modules.empty())
      st.why += "; the debug info of these lacks what is needed: " + modules +
                " (build with -g, or give the .debug files with --debug-dir)";
    else if (loader_why.empty() && vars_seen_ == 0 && st.any_dwarf)  // -g1, or variables stripped
      st.why += "; its debug info has functions and line tables but no variables (built with -g1?): build with -g";
    return st;
  }
  // The weight being resolved, the mlock slots and the `mapping` in use:
  // innermost frames first (the weight may be in a caller of the loader's
  // frame, as when a helper gets only its idx and offs).
  for (size_t fi = 0; fi < frames_->size(); ++fi) {
    each_var(fi, [&](Var& v) {
      try {
        if (!st.have_weight && v.type_name == "llama_tensor_weight" && (v.name == "weight" || v.name == "w")) {
          how_.clear();
          read_weight(fi, &v.die, v.indirect, st);
          st.weight_from = v.where() + how();
        } else if (!st.have_mlocks && starts_with(v.type_name, "vector<std::unique_ptr<llama_mlock")) {
          uint64_t a = var_address(fi, &v.die, v.indirect, "the mlock slots");
          if (a) {
            read_slots(object(v.type, a), st.mlocks);
            st.have_mlocks = true;
          }
        } else if (st.mapping_slot < 0 && v.name == "mapping" && v.indirect &&
                   starts_with(v.type_name, "unique_ptr<llama_mmap")) {
          // The slot is the element's index in the loader's vector.
          const uint64_t a = var_address(fi, &v.die, true, "the mapping");
          if (a >= map_start_ && map_esize_ && a < map_start_ + map_esize_ * st.mappings.size()) {
            st.mapping_slot = static_cast<int>((a - map_start_) / map_esize_);
            st.mapping_from = v.where();
          }
        }
      } catch (const NotKnown& e) {
        if (v.type_name == "llama_tensor_weight" && weight_why.empty()) weight_why = v.where() + ": " + e.why;
      }
      return false;
    });
  }
  // The weight optimized out (as -flto leaves it) but the tensor in scope
  // (load_all_data's `cur`): its weight from the loader's weights_map.
  for (size_t fi = 0; fi < frames_->size() && !st.have_weight; ++fi) {
    each_var(fi, [&](Var& v) {
      if (v.type_name != "ggml_tensor" || !v.indirect) return false;
      try {
        const uint64_t t = var_address(fi, &v.die, true, "the tensor");
        if (t < 4096) return false;
        const std::string name = tensor_name(object(v.type, t));
        if (!name.empty() && weight_by_name(name, st)) {
          st.weight_from = v.where() + how() + ", its weight from the loader's weights_map";
          return true;
        }
      } catch (const NotKnown&) {
      }
      return false;
    });
  }
  st.abi_layouts = abi_used_;
  if (!st.have_weight)
    st.weight_why = !weight_why.empty()
                        ? weight_why
                        : "no `weight` or `w` (llama_tensor_weight) is in scope in the crashing thread's frames";
  return st;
}

}  // namespace

bool capture_frame(Dwfl_Frame* state, std::vector<FrameRegs>& frames) {
  FrameRegs f;
  if (!dwfl_frame_pc(state, &f.pc, &f.activation)) return false;
  for (unsigned r = 0; r < kRegs; ++r) {
    Dwarf_Word w = 0;
    if (dwfl_frame_reg(state, r, &w) == 0) {
      f.reg[r] = w;
      f.known |= 1u << r;
    }
  }
  // elfutils 0.188's x86-64 ABI rules (backends/x86_64_cfi.c) mark DWARF
  // register 0 (rax) call-preserved where the psABI means 3 (rbx): in outer
  // frames rax is then "known" with a stale value and rbx unknown.
  // rax is call-clobbered; rbx is recovered by Reader::reg.
  if (!frames.empty()) f.known &= ~1u;
  frames.push_back(f);
  return true;
}

namespace {

// The unit holding the DIEs of `unit`: itself, or for a skeleton
// (-gsplit-dwarf) its split unit in the .dwo/.dwp; false for a skeleton
// whose split unit libdw did not find.
bool die_unit(const Dwarf_Die& unit, Dwarf_Die& out) {
  out = unit;
  uint8_t unit_type = 0;
  Dwarf_Die sub;
  if (dwarf_cu_info(unit.cu, nullptr, &unit_type, nullptr, &sub, nullptr, nullptr, nullptr) != 0 ||
      unit_type != DW_UT_skeleton)
    return true;
  if (dwarf_tag(&sub) != DW_TAG_compile_unit) return false;
  out = sub;
  return true;
}

}  // namespace

CuIndex::Module& CuIndex::index(Dwfl_Module* mod) {
  auto [it, added] = modules_.try_emplace(mod);
  Module& m = it->second;
  if (!added) return m;
  m.dw = dwfl_module_getdwarf(mod, &m.bias);
  if (!m.dw) return m;
  Dwarf_CU* cu = nullptr;
  Dwarf_Half version = 0;
  uint8_t unit_type = 0;
  Dwarf_Die cudie, subdie;
  // Bounded: a damaged .debug_info cannot make this loop forever.
  for (int n = 0; n < (1 << 20) && dwarf_get_units(m.dw, cu, &cu, &version, &unit_type, &cudie, &subdie) == 0; ++n) {
    if (unit_type != DW_UT_compile && unit_type != DW_UT_skeleton && unit_type != DW_UT_partial) continue;
    m.any_units = true;
    if (Dwarf_Die d; die_unit(cudie, d)) m.units.push_back(d);
    Dwarf_Addr base = 0, lo = 0, hi = 0;
    ptrdiff_t off = 0;
    for (int k = 0; k < 65536 && (off = dwarf_ranges(&cudie, off, &base, &lo, &hi)) > 0; ++k)
      if (hi > lo) m.ranges.push_back({lo, hi, dwarf_dieoffset(&cudie)});
  }
  std::sort(m.ranges.begin(), m.ranges.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  return m;
}

bool CuIndex::has_units(Dwfl_Module* mod) {
  return index(mod).any_units;
}

const std::vector<Dwarf_Die>& CuIndex::units(Dwfl_Module* mod) {
  return index(mod).units;
}

bool CuIndex::find(Dwfl_Module* mod, Dwarf_Addr pc, CuAt& out) {
  out = CuAt{};
  Dwarf_Die* cu = dwfl_module_addrdie(mod, pc, &out.bias);
  if (cu && dwarf_haspc(cu, pc - out.bias) > 0) {
    out.skeleton = *cu;
  } else {
    Module& m = index(mod);
    if (!m.dw) return false;
    const Dwarf_Addr rel = pc - m.bias;
    // The last range starting at or below rel, then back over overlaps.
    auto it =
        std::upper_bound(m.ranges.begin(), m.ranges.end(), rel, [](Dwarf_Addr a, const Range& r) { return a < r.lo; });
    bool found = false;
    for (int back = 0; it != m.ranges.begin() && back < 64 && !found; ++back) {
      --it;
      found = rel >= it->lo && rel < it->hi && dwarf_offdie(m.dw, it->cu, &out.skeleton) != nullptr;
    }
    if (!found) return false;
    out.bias = m.bias;
  }
  out.split_missing = !die_unit(out.skeleton, out.cu);
  return true;
}

LoaderState read_loader_state(Dwfl* dwfl, CuIndex& cus, const Core& core, int tid, ThreadFrames frames) {
  Reader reader(dwfl, cus, core, std::move(frames));
  try {
    return reader.run(tid);
  } catch (const Unsupported& u) {
    LoaderState st;
    st.source = "libdw";
    st.unsupported = u.why;
    st.why = "the native DWARF evaluator cannot read it: " + u.why;
    return st;
  }
}

}  // namespace numatrace::postmortem
