#!/usr/bin/env bash
# seeds.sh NUMA-TRACE LOADER LIBNUMATRACE MAKE-CORPUS OUT
#
# The fuzz targets' seed corpora, made from what the other tests make:
#   OUT/gguf      a generated split model's files and the malformed-GGUF corpus
#   OUT/trace     binary traces of the reference loader's strategies and faults
#   OUT/core      kernel-written cores of its crashes, under numa-trace, with
#                 the model memory left out and the notes kept (small)
#   OUT/recorder  the flight recorders of those cores (dumped by gdb), encoded
#                 as fuzz_recorder's patch lists
# Cores are written by the kernel: core_pattern is switched to files for the
# run when it pipes elsewhere (root), and put back on exit, also on failure.
# Exit 0 when every kind of seed was made, 1 otherwise.
NT=$1 LOADER=$2 LIB=$3 MAKE_CORPUS=$4 OUT=$5
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../cli/lib.sh"
command -v gdb >/dev/null || { echo "SKIP: gdb not installed (tools/quickstart installs it)"; exit 77; }
file_cores
cd "$T" || exit 1
rm -rf "$OUT" && mkdir -p "$OUT"/{gguf,trace,core,recorder} || exit 1

# GGUF: a small split model (every key kind, tokenizer arrays) and the
# malformed corpus.
"$NT" gen-model "$T/m" --splits 3 --size 256K >/dev/null || { echo "gen-model failed"; exit 1; }
cp "$T"/m-0000*.gguf "$OUT/gguf/"
"$MAKE_CORPUS" "$T/corpus" || exit 1
find "$T/corpus" -name '*.gguf' | while read -r f; do
  cp "$f" "$OUT/gguf/corpus-$(basename "$(dirname "$f")")-$(basename "$f")"
done

# Traces: each strategy, and the faults that do not crash.
n=0
for args in "--strategy per-file" "--strategy unified" "--strategy mirror" "--strategy unified --fault offset-drift" \
            "--strategy unified --fault partial-unmap" "--strategy per-file --fault leak" \
            "--strategy unified --fault same-object" "--strategy unified --fault null-slot --threads 1"; do
  n=$((n + 1))
  # shellcheck disable=SC2086
  (ulimit -c 0; "$NT" run -q -o "$OUT/trace/t$n.nttrace" -- "$LOADER" "$T/m" $args) >/dev/null 2>&1
done

# Cores and their recorders: the crashing faults, under libnumatrace.
n=0
for args in "--strategy unified --fault null-slot --threads 1" "--strategy unified --fault mlock-null-slot --mlock" \
            "--strategy unified --fault partial-unmap" "--strategy per-file --fault worker-crash"; do
  n=$((n + 1))
  rm -f "$T"/core*
  # shellcheck disable=SC2086
  { (ulimit -c unlimited; exec env LD_PRELOAD="$LIB" "$LOADER" "$T/m" $args) >/dev/null 2>&1; } 2>/dev/null
  c=$(newest_core "$T")
  [ -n "$c" ] || continue
  gdb -nx -batch -iex 'set debuginfod enabled off' -iex 'set auto-load off' \
      -ex "dump binary memory $T/rec$n.bin (char*)&numatrace_flight_recorder (char*)(&numatrace_flight_recorder + 1)" \
      "$LOADER" "$c" >/dev/null 2>&1
  [ -s "$T/rec$n.bin" ] && python3 "$HERE/seedconv.py" recorder "$T/rec$n.bin" "$OUT/recorder/r$n"
  python3 "$HERE/seedconv.py" core "$c" "$OUT/core/c$n"
done

status=0
for kind in gguf trace core recorder; do
  count=$(find "$OUT/$kind" -type f | wc -l)
  echo "$kind: $count seeds"
  [ "$count" -gt 0 ] || { echo "no $kind seeds were made"; status=1; }
done
exit $status
