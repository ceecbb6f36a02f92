#!/usr/bin/env bash
# A traced program dies of SIGSEGV in a null slot: it prints NT001 and the
# crash line first, the kernel writes a real core, and the flight recorder
# is read back from that core with gdb through its symbol.
C=$1 LIB=$2
. "$(dirname "$0")/../cli/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb not installed"; exit 77; }

file_cores

# 3 files of 16 MiB: the unified copy (48 MiB) must stay out of the core.
for i in 1 2 3; do head -c $(((16 << 20) + 100 * i)) /dev/urandom >"$T/m-0000$i-of-00003.gguf"; done
cd "$T" || exit 1
( ulimit -c unlimited; exec env LD_PRELOAD="$LIB" "$C" crash "$T"/m-0000{1,2,3}-of-00003.gguf ) >"$T/out" 2>"$T/err"
RC=$?
expect_rc 139 -- "crash program dies of SIGSEGV"
expect_grep "$T/err" "^numa-trace: NT001 resolve of 'blk.1.ffn_up.weight' \(file 1 of 3, offset 0x800064\) through slot 1, which is empty; the unified mapping covering files 0-2 is in slot 0 \(file 1 at \+0x1000064\): resolve through slot 0$" "NT001 printed"
expect_grep "$T/err" "^numa-trace: SIGSEGV at fault address 0x0 in thread [0-9]+ while resolving 'blk.1.ffn_up.weight'" "crash line printed"
core=$(newest_core "$T")
[ -n "$core" ] && pass || { fail "no core written in $T (core_pattern: $(cat $CORE_PATTERN_FILE))"; finish; exit; }

# Model memory is MADV_DONTDUMP: the core holds the recorder, not the model.
size=$(stat -c %s "$core")
[ "$size" -lt $((24 << 20)) ] && pass || fail "core is $size bytes: the 48 MiB model copy was dumped"
run gdb -batch -nx -iex "set debuginfod enabled off" -iex "set auto-load off" \
  -ex "set pagination off" \
  -ex "print/x numatrace_flight_recorder.magic" \
  -ex "print numatrace_flight_recorder.version" \
  -ex "print numatrace_flight_recorder.n_files" \
  -ex "print numatrace_flight_recorder.crash.signal" \
  -ex "print/x numatrace_flight_recorder.crash.fault_address" \
  -ex "print numatrace_flight_recorder.mappings[0].kind" \
  -ex "print numatrace_flight_recorder.threads[0].name" \
  -ex "print numatrace_flight_recorder.threads[0].slot" \
  -ex "print numatrace_flight_recorder.findings[0].code" \
  -ex "x/gx (char*)&numatrace_flight_recorder" \
  "$C" "$core"
expect_rc 0 -- "gdb reads the core"
expect_grep "$T/out" "= 0x5243454c46544e23" "magic from the core"
expect_grep "$T/out" "^\\\$2 = 1$" "version 1"
expect_grep "$T/out" "^\\\$3 = 3$" "3 files"
expect_grep "$T/out" "^\\\$4 = 11$" "crash signal SIGSEGV"
expect_grep "$T/out" "^\\\$5 = 0x0$" "fault address"
expect_grep "$T/out" "^\\\$6 = 2$" "slot 0 holds the unified mapping"
expect_grep "$T/out" "blk.1.ffn_up.weight" "in-flight tensor"
expect_grep "$T/out" "^\\\$8 = 1$" "in-flight slot 1"
expect_grep "$T/out" "^\\\$9 = 1$" "finding NT001 in the core"
# Without debug info the raw words still decode (docs/recorder.md).
expect_grep "$T/out" "<numatrace_flight_recorder>:\s+0x5243454c46544e23" "magic by address alone"
finish
