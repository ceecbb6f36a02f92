// Reading the loader's state from its DWARF in a core, natively (libdw):
// the crashing thread's frames with the registers the unwinder recovered,
// the variables in scope at each pc, their locations evaluated, and the
// loader's members found by name. Only the compile units of the frames
// walked, and of the pimpl types' definitions, are read.
#pragma once

#include <elfutils/libdwfl.h>

#include <map>
#include <vector>

#include "core.h"

namespace numatrace::postmortem {

constexpr unsigned kDwarfRegs = 17;  // x86-64 DWARF registers 0-16 (rax ... r15, return address)

// The compile unit holding an address, found the way every build needs:
// through .debug_aranges where the module has them (gcc), else through
// every unit's own ranges (clang emits no .debug_aranges by default),
// indexed once per module. A skeleton unit (-gsplit-dwarf) is followed to
// its split unit in the .dwo or .dwp, which holds the DIEs; the skeleton
// keeps the line table.
struct CuAt {
  Dwarf_Die cu{};        // the unit with the DIEs (the split unit for a skeleton)
  Dwarf_Die skeleton{};  // the unit in the module itself (line table)
  Dwarf_Addr bias = 0;
  bool split_missing = false;  // a skeleton whose .dwo/.dwp libdw did not find
};
class CuIndex {
 public:
  // false when no unit of `mod` covers `pc` (an absolute address).
  bool find(Dwfl_Module* mod, Dwarf_Addr pc, CuAt& out);
  // Whether `mod` has DWARF units at all: for messages that say what is
  // missing.
  bool has_units(Dwfl_Module* mod);
  // Every unit of `mod` that holds DIEs (a skeleton's split unit in its
  // place; skeletons whose split unit was not found left out).
  const std::vector<Dwarf_Die>& units(Dwfl_Module* mod);

 private:
  struct Range {
    Dwarf_Addr lo, hi;
    Dwarf_Off cu;  // offset of the unit's DIE in the module's Dwarf
  };
  struct Module {
    Dwarf* dw = nullptr;
    Dwarf_Addr bias = 0;
    std::vector<Range> ranges;  // sorted by lo
    std::vector<Dwarf_Die> units;
    bool any_units = false;
  };
  Module& index(Dwfl_Module* mod);
  std::map<Dwfl_Module*, Module> modules_;
};

// One frame of the crashing thread as the unwinder left it.
struct FrameRegs {
  uint64_t pc = 0;
  bool activation = false;
  uint64_t reg[kDwarfRegs] = {};
  uint32_t known = 0;  // bit r: reg[r] is known
};

// Each thread's frames, by tid, in the order the core lists them.
using ThreadFrames = std::vector<std::pair<int, std::vector<FrameRegs>>>;
constexpr size_t kReaderFrames = 64;    // frames kept per thread
constexpr size_t kReaderThreads = 256;  // threads kept besides the crashing one

// Appends `state` to `frames` (called from the stack walk's frame callback
// for the crashing thread; false when the pc cannot be read).
bool capture_frame(Dwfl_Frame* state, std::vector<FrameRegs>& frames);

// The concrete scopes holding `pc` (module-relative) in the compile unit
// `cu`, outermost first: the subprogram (found through namespaces), its
// lexical blocks and inlined calls.
bool concrete_scopes(Dwarf_Die* parent, Dwarf_Addr pc, std::vector<Dwarf_Die>& chain, int depth);

// A C++ symbol demangled, or the name as it is (nullptr: "").
std::string demangle(const char* name);

// A function DIE's name: demangled from its linkage name (without the
// parameter list unless `parameters`), else its declaration's name
// qualified by the namespaces and classes that hold it.
std::string qualified_name(Dwarf_Die* function, bool parameters);

// The loader's state at the crash of thread `tid`: the loader from the
// innermost frame of `tid` that has it in scope, else from another thread's
// frames (a caller's local there); the weight from `tid`'s frames.
LoaderState read_loader_state(Dwfl* dwfl, CuIndex& cus, const Core& core, int tid, ThreadFrames frames);

}  // namespace numatrace::postmortem
