#!/usr/bin/env bash
# The gdb extension in real gdb (batch, -nx, no debuginfod, no pagination):
# printers and commands on a stopped program, on a core after the null-slot
# crash, on the older llama_file layout, auto-loading from libnumatrace, and
# `numa-trace diagnose` against `numa-trace postmortem` on the same core.
NT=$1 PROG=$2 PROG_OLD=$3 PROG_LINKED=$4 LOADER=$5 LIB=$6 GDBDIR=$7
. "$(dirname "$0")/../cli/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb not installed"; exit 77; }
cd "$T" || exit 1
export NUMA_TRACE_BIN=$NT
GDB=(gdb -batch -nx -iex "set debuginfod enabled off" -iex "set pagination off" -iex "set width 0")
SOURCE=(-iex "source $GDBDIR/numatrace-gdb.py")

# Stopped at a breakpoint in the loader's frame.
run "${GDB[@]}" "${SOURCE[@]}" -ex "break stop_here" -ex "run stop" -ex "up" \
  -ex "print ml.mappings" -ex "print *weight" -ex "print ml.files" -ex "print *ml.mappings[0]" -ex "print ml" \
  -ex "numa-trace slots" -ex "numa-trace diagnose" --args "$PROG" stop
expect_rc 0 -- "gdb on the stopped program"
expect_grep "$T/out" '^\$1 = 6 slots \{\[0\] = llama_mmap \[0x[0-9a-f]+, \+0x15000\) fragments \(0x0, 0x15000\), \[1\] = <empty slot>, \[2\] = <empty slot>, \[3\] = <empty slot>, \[4\] = <empty slot>, \[5\] = <empty slot>\}' "print ml.mappings"
expect_grep "$T/out" "^\\\$2 = file idx 1, offs 0x1a40, tensor 'blk.0.attn_k.weight', size 512 \(its slot 1 is empty\)" "print *weight"
expect_grep "$T/out" '^\$3 = \{\[0\] = llama_file "/models/m-00001-of-00006.gguf", size 20480, fd -1, .*\[5\] = llama_file "/models/m-00006-of-00006.gguf", size 4096, fd -1\}' "print ml.files"
expect_grep "$T/out" '^\$4 = llama_mmap \[0x[0-9a-f]+, \+0x15000\)' "print *ml.mappings[0]"
expect_grep "$T/out" '^\$5 = llama_model_loader \{n_kv=0, n_tensors=1, .*mappings=\{\[0\] = llama_mmap .*\[1\] = <empty slot>' "print ml"
expect_grep "$T/out" "^  slot 1: <empty slot>" "numa-trace slots from the loader"
expect_grep "$T/out" "^Stopped in load_all_data\(llama_model_loader&, llama_model_loader::llama_tensor_weight const\*, bool\) while resolving 'blk.0.attn_k.weight' \(file 1 of 6, offset 0x1a40\)\. Mapping slot 1 is empty\. The unified mapping for files 0-5 lives in slot 0 \(base 0x[0-9a-f]+, file 1 at \+0x5000\)\. Resolve through slot 0 at that offset\." "numa-trace diagnose at the breakpoint"

# From a core of the crash.
file_cores
(ulimit -c unlimited; exec "$PROG" crash) >/dev/null 2>&1
core=$(newest_core "$T")
[ -n "$core" ] && pass || { fail "no core"; finish; exit; }
run "${GDB[@]}" "${SOURCE[@]}" -ex "frame function load_all_data" -ex "print ml.mappings" -ex "numa-trace diagnose" "$PROG" "$core"
expect_rc 0 -- "gdb on the core"
expect_grep "$T/out" '\[1\] = <empty slot>' "print ml.mappings from the core"
expect_grep "$T/out" "^SIGSEGV at 0x0 \(null page\) in .* while resolving 'blk.0.attn_k.weight' \(file 1 of 6, offset 0x1a40\)\. Mapping slot 1 is empty\. .*Resolve through slot 0 at that offset\." "numa-trace diagnose on the core"

# The older llama_file layout (fp and size only).
run "${GDB[@]}" "${SOURCE[@]}" -ex "break stop_here" -ex "run stop" -ex "up" -ex "print ml.files" --args "$PROG_OLD" stop
expect_grep "$T/out" '^\$1 = \{\[0\] = llama_file size 20480, fp 0x0, ' "older llama_file layout"

# Auto-loaded from libnumatrace's .debug_gdb_scripts: no `source`.
run "${GDB[@]}" -iex "add-auto-load-safe-path $(dirname "$LIB")" -ex "break stop_here" -ex "run stop" \
  -ex "info pretty-printer" -ex "up" -ex "print ml.mappings" --args "$PROG_LINKED" stop
expect_grep "$T/out" "^  numatrace" "info pretty-printer lists numatrace"
expect_grep "$T/out" '\[1\] = <empty slot>' "auto-loaded printers work"
# Linked with libnumatrace but never calling its hooks: the empty flight
# recorder does not hide the loader of the selected frame.
run "${GDB[@]}" -iex "add-auto-load-safe-path $(dirname "$LIB")" -ex "break stop_here" -ex "run stop" -ex "up" \
  -ex "numa-trace slots" -ex "numa-trace diagnose" --args "$PROG_LINKED" stop
expect_grep "$T/out" "^mapping slots \(llama_model_loader.mappings, 6 slots\)" "slots: the loader's, beside an empty recorder"
expect_grep "$T/out" "^Stopped in load_all_data.* while resolving 'blk.0.attn_k.weight' \(file 1 of 6, offset 0x1a40\)\. Mapping slot 1 is empty\..* File 1 of 6 is /models/m-00002-of-00006\.gguf \(12288 bytes\)\." "diagnose: the loader's verdict, with the file sentence postmortem gives"
run "${GDB[@]}" -iex "set auto-load safe-path /nonexistent" -ex "break stop_here" -ex "run stop" \
  -ex "info pretty-printer" --args "$PROG_LINKED" stop
if grep -q "^  numatrace" "$T/out"; then fail "loaded outside the auto-load safe-path"; else pass; fi

# The reference loader's null-slot core: gdb's words are postmortem's.
rm -f "$T"/core*
"$NT" gen-model "$T/m" --splits 6 --size 8M >/dev/null
(ulimit -c unlimited; exec env LD_PRELOAD="$LIB" "$LOADER" "$T/m" --strategy unified --fault null-slot --threads 1) >/dev/null 2>&1
core=$(newest_core "$T")
run "$NT" postmortem "$core"
sed -n 3p "$T/out" >"$T/pm.txt"
run "${GDB[@]}" -iex "add-auto-load-safe-path $(dirname "$LIB")" -ex "numa-trace diagnose" -ex "numa-trace events 3" \
  -ex "print numatrace_flight_recorder" -ex "print numatrace_flight_recorder.mappings[0]" "$LOADER" "$core"
grep -E "^SIGSEGV" "$T/out" >"$T/gdb.txt"
if [ -s "$T/pm.txt" ] && diff -u "$T/pm.txt" "$T/gdb.txt"; then pass; else fail "diagnose and postmortem differ"; fi
expect_grep "$T/out" "^  #[0-9]+ finding tid [0-9]+ slot 1 file 1 NT001" "numa-trace events"
expect_grep "$T/out" '^\$1 = nt_flight_recorder v1 pid [0-9]+: [0-9]+ events, 1 mappings, 1 findings' "recorder printer"
expect_grep "$T/out" '^\$2 = slot 0 unified live \[0x[0-9a-f]+, \+0x[0-9a-f]+\), 6 extents' "mapping record printer"
finish
