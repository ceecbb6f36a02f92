#!/usr/bin/env bash
# Upstream llama.cpp built from source with debug info (tools/quickstart
# builds llama-simple from the source node-llama-cpp ships): numa-trace
# PROGRAM leaves it unharmed and traces it; the gdb extension's printers and
# commands read its real llama_model_loader; and a kernel-written core of
# its null-slot crash decodes from its DWARF alone.
# usage: source.sh NUMA-TRACE GDB-DIR LLAMA-SOURCE
NT=$1 GDBDIR=$2 SRC=$3
. "$(dirname "$0")/../cli/lib.sh"
SIMPLE=$SRC/build/bin/llama-simple
if [ ! -f "$SRC/.built" ] || [ ! -x "$SIMPLE" ]; then
  echo "SKIP: upstream llama.cpp is not built in $SRC (tools/quickstart test builds it)"
  exit 77
fi
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (tools/quickstart installs it)"; exit 77; }
cd "$T" || exit 1
file_cores
"$NT" gen-model "$T/m" --splits 3 --size 2M >/dev/null || { echo "gen-model failed"; exit 1; }
M=$T/m-00001-of-00003.gguf

# Unharmed and traced: the same text and exit status, one mapping per
# split, a resolve per tensor.
"$SIMPLE" -m "$M" -n 4 hello >"$T/want" 2>"$T/want.err"
want_rc=$?
[ "$want_rc" = 0 ] && pass || fail "llama-simple without numa-trace: exit $want_rc: $(tail -3 "$T/want.err")"
run "$NT" "$SIMPLE" -m "$M" -n 4 hello
expect_rc 0 -- "numa-trace llama-simple"
cmp -s "$T/out" "$T/want" && pass || fail "numa-trace llama-simple printed '$(cat "$T/out")', without it '$(cat "$T/want")'"
trace=$(ls "$T"/numa-trace-*.nttrace 2>/dev/null | head -1)
run "$NT" report --json "$trace"
python3 - "$T/out" <<'PY' && pass || fail "the trace of llama-simple: $(head -c 300 "$T/out")"
import json, sys
j = json.load(open(sys.argv[1]))
assert sorted((m["slot"], m["kind"]) for m in j["mappings"]) == [(i, "per-file") for i in range(3)], j["mappings"]
assert sum(r["count"] for r in j["resolves"]) == 12, j["resolves"]
PY

# gdb: stopped where load_all_data looks a tensor's mapping up, slot 1 is
# emptied, as the unified-mapping bug leaves it.
line=$(grep -n 'const auto & mapping = mappings.at(weight->idx);' "$SRC/src/llama-model-loader.cpp" | head -1 | cut -d: -f1)
[ -n "$line" ] || { fail "the mapping lookup is not in $SRC/src/llama-model-loader.cpp"; finish; exit 1; }
GDB=(gdb -batch -nx -iex "set debuginfod enabled off" -iex "set pagination off" -iex "set width 0"
     -iex "set breakpoint pending on" -iex "source $GDBDIR/numatrace-gdb.py")
EMPTY_SLOT1='set var *(void**)(this->mappings._M_impl._M_start + 1) = 0'
export NUMA_TRACE_BIN=$NT
run "${GDB[@]}" -ex "break llama-model-loader.cpp:$line" -ex run -ex "$EMPTY_SLOT1" -ex delete -ex continue \
  -ex "frame function llama_model_loader::load_all_data" -ex "print this->mappings" -ex "print *weight" \
  -ex "numa-trace slots" -ex "numa-trace diagnose" --args "$SIMPLE" -m "$M" -n 4 hello
expect_grep "$T/out" '^\$1 = 3 slots \{\[0\] = llama_mmap \[0x[0-9a-f]+, \+0x[0-9a-f]+\) fragments \(0x0, 0x[0-9a-f]+\), \[1\] = <empty slot>, \[2\] = llama_mmap ' "print this->mappings"
expect_grep "$T/out" "^\\\$2 = file idx 1, offs 0x[0-9a-f]+, tensor '[^']+' \(its slot 1 is empty\)" "print *weight"
expect_grep "$T/out" '^  slot 1: <empty slot>$' "numa-trace slots"
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in llama_mmap::addr\(\) const while resolving '[^']+' \(file 1 of 3, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\..* File 1 of 3 is $T/m-00002-of-00003\.gguf \([0-9]+ bytes\)\." "numa-trace diagnose"
tensor=$(grep -oE "^\\\$2 = file idx 1, offs 0x[0-9a-f]+, tensor '[^']+'" "$T/out" | cut -d"'" -f2)

# The same crash, left to run on after gdb detaches: the kernel writes the
# core, and postmortem reads the loader's state from its DWARF.
rm -f "$T"/core*
(ulimit -c unlimited; exec "${GDB[@]}" -ex "break llama-model-loader.cpp:$line" -ex run -ex "$EMPTY_SLOT1" -ex delete \
   -ex detach --args "$SIMPLE" -m "$M" -n 4 hello) >"$T/detach.out" 2>&1
for _ in $(seq 100); do
  core=$(newest_core "$T")
  [ -n "$core" ] && ! pgrep -f "^$SIMPLE -m $M" >/dev/null && break
  sleep 0.1
done
[ -n "$core" ] && pass || { fail "no core of llama-simple in $T"; finish; exit 1; }
run "$NT" postmortem "$core"
expect_rc 1 -- "postmortem of llama-simple's core"
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in llama_mmap::addr\(\) const while resolving '$tensor' \(file 1 of 3, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\. No mapping holds file 1: create it before resolving its tensors\. File 1 of 3 is $T/m-00002-of-00003\.gguf \([0-9]+ bytes\)\. \(From the loader's debug info, read natively with libdw" "postmortem: slot 1, the tensor gdb saw, the file, from DWARF"
expect_grep "$T/out" "^    1  <empty>$" "postmortem: slot 1 empty"
expect_grep "$T/out" "^  NT001 resolve of '$tensor'" "postmortem: NT001"
# The same core through gdb and numa-trace's extension (`numa-trace facts`):
# the same slot, tensor and file.
run "$NT" postmortem --debug-info gdb "$core"
expect_rc 1 -- "postmortem --debug-info gdb of llama-simple's core"
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in llama_mmap::addr\(\) const while resolving '$tensor' \(file 1 of 3, offset 0x[0-9a-f]+\)\. Mapping slot 1 is empty\..*File 1 of 3 is $T/m-00002-of-00003\.gguf \([0-9]+ bytes\)\. \(From the loader's debug info, read through gdb" "postmortem through gdb: the same slot, tensor and file"
finish
