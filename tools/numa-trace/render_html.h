// The report as one self-contained HTML page (render_html.cpp): no network,
// inline CSS, SVG and a little JavaScript (timeline zoom), readable from a
// file in any browser. docs/numa-trace.md, "report --html".
#pragma once

#include <string>

#include "numatrace/trace/reader.h"
#include "trace_summary.h"

namespace numatrace::cli {

std::string report_html(const trace::Trace& t, const TraceSummary& s);

}  // namespace numatrace::cli
