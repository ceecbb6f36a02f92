#!/usr/bin/env bash
# fuzz-one.sh TARGET SECONDS WORK-DIR INPUT-DIR...
#
# Runs one libFuzzer target for SECONDS: its corpus grows in WORK-DIR/corpus
# (kept between runs), the INPUT-DIRs (seeds, regression inputs) are read,
# never written. Prints the executions and the corpus size; an input that
# fails (crash, sanitizer report, leak, timeout, out of memory) is saved in
# WORK-DIR/findings, its report printed, and the exit status is 1. Add it to
# tests/fuzz/regress/TARGET once fixed.
BIN=$1 SECS=$2 WORK=$3
shift 3
name=$(basename "$BIN")
mkdir -p "$WORK/corpus" "$WORK/findings" || exit 1
for d in "$@"; do
  [ -d "$d" ] || { echo "$name: input directory $d does not exist"; exit 1; }
done
"$BIN" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$WORK/findings/" "$WORK/corpus" "$@" >"$WORK/log" 2>&1
rc=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/log" | tail -1)
units=$(find "$WORK/corpus" -type f | wc -l)
echo "$name: ${execs:-?} executions in ${SECS} s, corpus $units inputs, exit status $rc"
if [ "$rc" != 0 ] || [ -z "$execs" ]; then
  grep -E -A40 "^==[0-9]+==|runtime error|ERROR: libFuzzer|Test unit written" "$WORK/log" | head -80
  ls -l "$WORK/findings"
  exit 1
fi
exit 0
