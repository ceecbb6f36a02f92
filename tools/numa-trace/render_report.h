// Rendering a trace's report (render_report.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include "numatrace/trace/reader.h"
#include "trace_summary.h"

namespace numatrace::cli {

// The report as `report --json` prints it.
nlohmann::ordered_json report_json(const trace::Trace& t, const TraceSummary& s);
// The report as tables on stdout.
void print_report_text(const trace::Trace& t, const TraceSummary& s);

}  // namespace numatrace::cli
