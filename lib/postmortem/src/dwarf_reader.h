// The native DWARF reader's internals, shared by its parts (see
// debuginfo.h for what it gives; docs/postmortem.md for how):
//   dwarf_die.cpp    DIE helpers, type names, definitions of declared-only
//                    types, libstdc++'s ABI layouts
//   dwarf_eval.cpp   frames' registers (x86-64) and the location evaluator
//   dwarf_types.cpp  objects, members and the libstdc++ containers read
//                    from the core
//   debuginfo.cpp    the search policy: where the loader, the weight and
//                    the mapping are looked for, in which threads
#pragma once

#include <dwarf.h>
#include <elfutils/libdw.h>

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "debuginfo.h"

namespace numatrace::postmortem::dw {

constexpr unsigned kRegs = kDwarfRegs;

// Bounds of what is read from a core (a larger one is corrupt); the gdb
// extension uses the same (gdb/numatrace/memory.py).
constexpr uint64_t kMaxItems = 4096;         // elements of a loader's vector
constexpr uint64_t kMaxString = 4096;        // bytes of a std::string (a path)
constexpr uint64_t kMaxMapNodes = 1u << 20;  // entries of the weights map
// "rbx", or "register N".
std::string reg_name(unsigned r);

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

std::string name_of(Dwarf_Die* d);

bool type_of(Dwarf_Die* d, Dwarf_Die* out);

// Through typedefs and qualifiers.
Dwarf_Die strip_cv(Dwarf_Die t);

bool is_indirect(Dwarf_Die* t);

bool is_struct(Dwarf_Die* t);

// The struct a variable's type names, through one pointer or reference.
bool struct_of(Dwarf_Die* var, Dwarf_Die* out, bool* indirect);

bool declaration(Dwarf_Die* d);

uint64_t size_of(Dwarf_Die* t);

bool starts_with(const std::string& s, const char* p);

// "ns::cls::fn(args...) const" -> "ns::cls::fn": the parameter list, found
// from its closing parenthesis, is dropped.
std::string without_parameters(const std::string& f);

// The first template type parameter of a class template instance.
bool template_arg(Dwarf_Die* t, Dwarf_Die* out);

uint64_t member_offset(Dwarf_Die* m);

// A type's name qualified by the namespaces and classes that hold it,
// without spaces (gcc writes "foo<bar> >", clang "foo<bar>>"); in `cls`
// the outermost class around it (itself when none), in `mangled` the
// symbol prefix of that class's methods ("" when it is a template or
// inside std).
struct TypeKey {
  std::string key, cls, mangled;
};

std::string squeeze(std::string s);

TypeKey type_key(Dwarf_Die* t);

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
Abi libstdcxx_layout(const std::string& key);

uint64_t abi_size(Abi a);

// The first template argument of a type_key ("std::vector<T,...>" -> "T").
std::string first_template_arg(const std::string& key);

// The definition of the type named `key` (type_key's form) in one unit:
// through the namespaces and classes whose names lead to it, and nested
// types defined outside their class (a top-level DIE with
// DW_AT_specification naming the declaration inside it).
std::optional<Dwarf_Die> definition_in(Dwarf_Die* parent, const std::string& prefix, const std::string& key, int depth);

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
  std::optional<Obj> pimpl_of(const TypeRef& cls, uint64_t object_addr);
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
  size_t thread_ = 0;                         // its index in threads_
  std::string of_thread_;                     // " of thread N" when not the crashing one
  // Reads thread `ti` of threads_ from now on.
  void use_thread(size_t ti, int crashed_tid) {
    frames_ = &threads_[ti].second;
    thread_ = ti;
    of_thread_ = threads_[ti].first == crashed_tid ? "" : " of thread " + std::to_string(threads_[ti].first);
  }
  bool find_loader(LoaderState& st, std::vector<std::string>& lacking, std::string& loader_why);
  std::map<std::pair<size_t, size_t>, FrameInfo> info_;          // by (thread, frame): kept across use_thread()
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

}  // namespace numatrace::postmortem::dw
