#!/usr/bin/env bash
# numa-trace postmortem from DWARF alone, on kernel-written cores of a
# loader shaped like upstream's (tests/debuginfo/*.cpp) that never ran
# under numa-trace: four threads load, mappings[1] was never filled, one
# thread dies in llama_mmap::addr (this=0x0).
#   -O2 -g (RelWithDebInfo) and -O0 -g: the native reader names the empty
#     slot, slots 0 and 2 with ranges that match the core's NT_FILE
#     mappings, the file behind slot 1, the tensor, NT001; gdb, asked
#     instead, gives the same tensor;
#   -O2 through upstream's one-tensor path: `this` only as
#     DW_OP_entry_value(rdi), from the caller's call site;
#   -O2 through a helper given only idx and offs: the weight is optimized
#     out, and found by its tensor's name in the loader's weights_map;
#   --mlock: the mlock slots (a parameter of load_all_data) too;
#   stripped, its .debug found by build-id under --debug-dir;
#   no debug info at all: the report says what it cannot know.
NT=$1 O2=$2 O0=$3 NODEBUG=$4
. "$(dirname "$0")/common.sh"

# 1. RelWithDebInfo (-O2 -g): `this` and `weight` of load_all_data live in
# registers the unwinder recovers for the outer frame.
weight_from="\`weight\` in frame #[0-9]+ llama_model_loader::load_all_data"
crash o2 "$O2"
check_native o2
run "$NT" postmortem "$T/o2.core"
tensor=$(grep -oE "while resolving '[^']+'" "$T/out" | head -1 | cut -d"'" -f2)
[ -n "$tensor" ] && pass || fail "o2: no tensor in the verdict"
# The gdb fallback, asked for: the same answer, said to come from gdb.
if command -v gdb >/dev/null; then
  run "$NT" postmortem --debug-info gdb "$T/o2.core"
  expect_rc 1 -- "o2 through gdb"
  expect_grep "$T/out" "while resolving '$tensor' .*read through gdb" "gdb names the same tensor"
  expect_grep "$T/out" "^    1  <empty>$" "gdb: slot 1 empty"
else
  fail "gdb not installed (tools/quickstart installs it)"
fi

# 1b. Upstream's one-tensor path: weight_data(w), out of line, no longer
# needs `this` after calling addr(), so gcc 12 -O2 describes it only as
# DW_OP_entry_value(rdi); its value comes from load_data_for's call site.
weight_from="\`w\` in frame #1 llama_model_loader::weight_data"
crash entry "$O2" --one-by-one
check_native entry
run "$NT" postmortem "$T/entry.core"
expect_grep "$T/out" "^  llama_model_loader at 0x[0-9a-f]+: \`this\` in frame #1 llama_model_loader::weight_data \(DW_OP_entry_value\(rdi\) from the call site in llama_model_loader::load_data_for\)$" "entry: \`this\` from DW_OP_entry_value through the call site"
weight_from="\`weight\` in frame #[0-9]+ llama_model_loader::load_all_data"

# 1c. A helper that gets only idx and offs (file_data): the caller's
# `weight` is dead after the call, but its tensor (`cur`, a parameter) is
# not: the weight is found by the tensor's name in the loader's
# weights_map, and the report says where it came from.
crash byindex "$O2" --by-index
run "$NT" postmortem "$T/byindex.core"
expect_rc 1 -- "byindex: postmortem"
expect_grep "$T/out" "$verdict_re .*read natively with libdw" "byindex: slot 1, the file and the tensor named"
expect_grep "$T/out" "^    1  <empty>$" "byindex: slot 1 empty"
expect_grep "$T/out" "^  weight: file 1, offset 0x[0-9a-f]+, tensor '[^']+', from \`cur\` in frame #[0-9]+ llama_model_loader::load_data_by_index.*, its weight from the loader's weights_map$" "byindex: the weight through the tensor in scope"

# 2. -O0 -g: everything in memory, found through the frame base.
crash o0 "$O0"
check_native o0

# 3. The mlock slots, a pointer parameter of load_all_data.
crash mlock "$O2" --mlock
check_native mlock
expect_grep "$T/out" '"mlocks": \[' "mlock slots in the JSON"
run "$NT" postmortem "$T/mlock.core"
if python3 - <<PY; then pass; else fail "mlock slots: $(sed -n '/  mlocks/,/^$/p' "$T/out")"; fi
import re
out = open("$T/out").read()
block = out.split("  mlocks\n", 1)[1].split("\n\n", 1)[0].splitlines()[1:]
assert re.match(r"^ +0  0x[0-9a-f]+ +0x[0-9a-f]+-0x[0-9a-f]+ +[0-9]+$", block[0]), block
assert block[1].strip() == "1  <empty>", block
assert re.match(r"^ +2  0x[0-9a-f]+ ", block[2]), block
PY

# 4. Stripped, with the DWARF in a separate file found by build-id.
cp "$O2" "$T/stripped"
id=$(readelf -n "$T/stripped" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
[ -n "$id" ] && pass || fail "no build-id in $O2"
mkdir -p "$T/debug/.build-id/${id:0:2}"
objcopy --only-keep-debug "$T/stripped" "$T/debug/.build-id/${id:0:2}/${id:2}.debug"
strip --strip-debug "$T/stripped"
crash stripped "$T/stripped"
check_native stripped --debug-dir "$T/debug"
run "$NT" postmortem --debug-dir "$T/debug" "$T/stripped.core"
expect_grep "$T/out" "DWARF from $T/debug/\.build-id/${id:0:2}/${id:2}\.debug" "the .debug file found by build-id is named"
run "$NT" postmortem --debug-info native "$T/stripped.core"
expect_rc 1 -- "stripped without --debug-dir"
expect_grep "$T/err" "a llama_model_loader in scope; the debug info of these lacks what is needed: stripped \(no debug info \(DWARF\)\)" "without its .debug file: says which module has no debug info"

# 5. No debug info at all: what cannot be known is said, the rest reported.
crash nodebug "$NODEBUG"
run "$NT" postmortem "$T/nodebug.core"
expect_rc 1 -- "nodebug: postmortem"
expect_grep "$T/out" "^SIGSEGV at 0x0 in llama_mmap::addr\(\) const\. The program did not run under numa-trace" "nodebug: the crash is still located"
expect_grep "$T/out" "cannot be known without the recorder \(or the loader's debug info\)\. Splits with no mapping at the crash: 1\." "nodebug: says what it cannot know, and the unmapped split"
expect_grep "$T/err" "lacks what is needed: shaped_loader_nodebug \(no debug info \(DWARF\)\) \(build with -g, or give the \.debug files with --debug-dir\)" "nodebug: says why"
run "$NT" postmortem --json "$T/nodebug.core"
expect_grep "$T/out" '"verdict_source": "NT_FILE only"' "nodebug: verdict from NT_FILE only"

# 6. The same crash under numa-trace run: the interposer records the
# mappings but no resolve, so the recorder explains nothing; the verdict
# must be no worse than without it (NT001 from the DWARF, both sources said).
rm -f "$T"/core* "$T"/run.nttrace
(ulimit -c unlimited; exec "$NT" run -o "$T/run.nttrace" -- "$O2" "$T/index" --threads 1 --missing 1) >/dev/null 2>"$T/run.err"
RC=$?
expect_rc 139 -- "o2 under numa-trace run crashes with SIGSEGV"
c=$(newest_core "$T")
[ -n "$c" ] && mv "$c" "$T/run.core" && pass || fail "o2 under numa-trace run: no core"
check_native run
run "$NT" postmortem --json "$T/run.core"
expect_grep "$T/out" '"verdict_source": "debug info \(libdw\) and flight recorder"' "run: both sources said"
expect_grep "$T/out" '"recorder_verdict": "SIGSEGV at 0x0' "run: the recorder's own verdict kept"

# 7. A bad --debug-info value is a usage error.
run "$NT" postmortem --debug-info maybe "$T/o2.core"
expect_rc 2 -- "--debug-info maybe"
expect_grep "$T/err" "auto, native, gdb or none" "--debug-info values named"

# 8. Code without DWARF of its own (crt1.o's _start) gets no source line of
# another compile unit. (Which threads a core holds varies; any _start
# frame in any of this test's cores must be bare.)
bare=0
for c in "$T"/*.core; do
  run "$NT" postmortem --sources all "$c"
  if grep -E "  _start at " "$T/out"; then fail "$c: _start given a source line"; else pass; fi
  grep -qE "  _start \([a-z0-9_]+ \+ 0x[0-9a-f]+\)$" "$T/out" && bare=$((bare + 1))
done
[ "$bare" -gt 0 ] && pass || fail "no core of this test shows the main thread's _start frame"
finish
