// The loader's state from DWARF alone, with libdw (see debuginfo.h).
//
// 1. Every thread's frames, captured during analyze()'s stack walk:
//    the pc and the registers the unwinder knows (dwfl_frame_reg: all of
//    them in the innermost frame, the callee-saved ones further out; others
//    recovered from the callee's CFI where libdwfl leaves them unknown).
// 2. In each frame, innermost first, the variables in scope at the pc
//    (concrete scopes, inlined calls included) are searched for a
//    llama_model_loader (by type, or a struct holding one; in the crashing
//    thread, then in the others), a llama_tensor_weight (`weight` / `w`,
//    else a ggml_tensor in scope looked up in the loader's weights_map),
//    the mlock slots and a `mapping` reference. This file: that policy.
// 3. A variable's location is evaluated by a small DWARF stack machine:
//    registers, frame base and CFA (CFI), memory from the core, location
//    lists, DW_OP_entry_value through the caller's DW_TAG_call_site
//    parameters. Anything else is "unsupported" and the caller asks gdb.
//    (dwarf_eval.cpp)
// 4. Members are found by name, through base classes; types a unit only
//    declares by their qualified name in the other units, else libstdc++'s
//    ABI layout (dwarf_types.cpp, dwarf_die.cpp).
#include "dwarf_reader.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>

#include "numatrace/text.h"

namespace numatrace::postmortem {

using dw::is_struct;
using dw::kRegs;
using dw::name_of;
using dw::without_parameters;

// (dwarf_getscopes continues an inlined call with its abstract origin's
// scopes, not with the function it was inlined into.)
bool concrete_scopes(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain, int depth) {
  // A unit's top level is walked DIE by DIE: the crashing thread's frames
  // are asked for twice (source lines, then the loader's variables), so a
  // unit's answer for a pc is kept.
  if (depth == 0) {
    static std::map<std::pair<const void*, Dwarf_Addr>, std::pair<bool, std::vector<Dwarf_Die>>> memo;
    const auto key = std::make_pair(static_cast<const void*>(parent->addr), pc);
    auto it = memo.find(key);
    if (it == memo.end()) {
      std::vector<Dwarf_Die> found;
      const bool ok = concrete_scopes(parent, pc, found, 1);
      it = memo.emplace(key, std::make_pair(ok, std::move(found))).first;
    }
    chain.insert(chain.end(), it->second.second.begin(), it->second.second.end());
    return it->second.first;
  }
  Dwarf_Die c;
  if (depth > 65 || dwarf_child(parent, &c) != 0) return false;
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

namespace dw {

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

}  // namespace dw

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
  dw::Reader reader(dwfl, cus, core, std::move(frames));
  try {
    return reader.run(tid);
  } catch (const dw::Unsupported& u) {
    LoaderState st;
    st.source = "libdw";
    st.unsupported = u.why;
    st.why = "the native DWARF evaluator cannot read it: " + u.why;
    return st;
  }
}

}  // namespace numatrace::postmortem
