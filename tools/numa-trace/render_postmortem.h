// Rendering a post-mortem Report (render_postmortem.cpp).
#pragma once

#include <nlohmann/json.hpp>

#include "numatrace/postmortem/postmortem.h"

namespace numatrace::cli {

// The report as `--json` prints it.
nlohmann::ordered_json postmortem_json(const postmortem::Report& r);
// The report as text on stdout; warnings, and that the core was damaged, on
// stderr.
void print_postmortem(const postmortem::Report& r);

}  // namespace numatrace::cli
