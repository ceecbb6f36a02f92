// numa-trace postmortem with many cores (buckets.cpp): decoded one by one,
// each in a sandboxed child, and grouped by cause.
#pragma once

#include "engine.h"

namespace numatrace::cli {

// Whether the options name many cores: more than one CORE, a folder, or
// --coredump ... --all.
bool many_cores(const PostmortemOptions& o);
// Decodes them and prints one line per cause (or --json: every core's
// verdict and bucket, and the buckets). Exit 2 when a core could not be
// decoded (the others are still reported), else 1 when any crashed or has
// findings, else 0.
int run_many(const PostmortemOptions& o, const EngineApi* e);

}  // namespace numatrace::cli
