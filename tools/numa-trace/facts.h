// Facts JSON (docs/gdb.md) -> the loader's state, as the native reader
// gives it; postmortem::recorder_from_state turns either into recorder
// tables for the rule engine.
#pragma once

#include <string>

#include "numatrace/postmortem/postmortem.h"
#include "numatrace/result.h"

namespace numatrace::cli {

// Error codes DG001-DG003 (docs/numa-trace.md).
Result<postmortem::LoaderState> loader_state_from_facts(const std::string& json, const std::string& where);
Result<postmortem::LoaderState> loader_state_from_facts_file(const std::string& path);

}  // namespace numatrace::cli
