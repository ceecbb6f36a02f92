// Reading the loader's state from its DWARF in a core, natively (libdw):
// the crashing thread's frames with the registers the unwinder recovered,
// the variables in scope at each pc, their locations evaluated, and the
// loader's members found by name. Only the compile units of the frames
// walked, and of the pimpl types' definitions, are read.
#pragma once

#include <elfutils/libdwfl.h>

#include "core.h"

namespace numatrace::postmortem {

LoaderState read_loader_state(Dwfl* dwfl, const Core& core, int tid);

}  // namespace numatrace::postmortem
