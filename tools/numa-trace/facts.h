// Facts JSON (docs/gdb.md) -> flight-recorder tables, for the rule engine.
#pragma once

#include <memory>
#include <string>

#include "numatrace/recorder_layout.h"
#include "numatrace/result.h"

namespace numatrace::cli {

// `tid` is set from the facts. Error codes DG001-DG003 (docs/numa-trace.md).
Result<std::shared_ptr<nt_flight_recorder>> recorder_from_facts(const std::string& json, const std::string& where,
                                                                int& tid);
Result<std::shared_ptr<nt_flight_recorder>> recorder_from_facts_file(const std::string& path, int& tid);

}  // namespace numatrace::cli
