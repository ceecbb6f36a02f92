#!/usr/bin/env bash
# numa-trace report --html, opened in headless Chromium (Debian's chromium):
# the demo's crash trace, a clean mirror trace from the 2-node VM
# (tests/vm keeps it), and a 1,000-tensor load. For each page: no script
# error, every mapping, file and finding of `report --json` in the DOM, a
# screenshot that is not blank; and the page stays small.
# usage: html.sh NUMA-TRACE LOADER LIBNUMATRACE VM-TRACE|- [SHOT-OUT.png]
NT=$1 LOADER=$2 LIB=$3 VM_TRACE=$4 SHOT_OUT=${5:-}
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)
CHROMIUM=$(command -v chromium || command -v chromium-browser)
[ -n "$CHROMIUM" ] || { echo "SKIP: chromium is not installed (tools/quickstart test installs it)"; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: python3 is not installed"; exit 77; }
# Headless, as root, without any network or background service (this
# machine's network is closed).
chromium_run() {
  local profile
  profile=$(mktemp -d "$T/profile.XXXXXX")
  timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --disable-extensions \
    --user-data-dir="$profile" --enable-logging=stderr --v=0 "$@"
}

# check NAME TRACE: report --json and --html of TRACE, opened in Chromium.
check() {
  local name=$1 trace=$2
  run "$NT" report --json "$trace"
  cp "$T/out" "$T/$name.json"
  rm -f "$T/$name.html"
  run "$NT" report --html "$T/$name.html" "$trace"
  [ -s "$T/$name.html" ] && pass || { fail "$name: report --html wrote nothing: $(head -c 300 "$T/err")"; return; }
  chromium_run --dump-dom "file://$T/$name.html" >"$T/$name.dom" 2>"$T/$name.chromium.err"
  [ -s "$T/$name.dom" ] && pass || { fail "$name: chromium printed no DOM: $(tail -3 "$T/$name.chromium.err")"; return; }
  chromium_run --screenshot="$T/$name.png" --window-size=1280,1800 --hide-scrollbars "file://$T/$name.html" \
    >/dev/null 2>>"$T/$name.chromium.err"
  python3 "$HERE/check_html.py" "$T/$name.json" "$T/$name.dom" "$T/$name.chromium.err" "$T/$name.png" \
    >"$T/$name.check" 2>&1 && pass || fail "$name: $(cat "$T/$name.check")"
  cat "$T/$name.check"
}

# The demo's crash trace (NT001, a crash, an in-flight resolve).
run "$NT" demo --dir "$T/demo"
[ -f "$T/demo/crash.nttrace" ] && pass || fail "the demo left no crash trace: $(tail -3 "$T/err")"
check demo "$T/demo/crash.nttrace"
grep -q 'id="in-flight"' "$T/demo.dom" && pass || fail "demo: the crash's in-flight resolve is not shown"

# A clean mirror load on two nodes, from the VM (release builds; "-" in
# sanitizer builds, which do not run the VM).
if [ "$VM_TRACE" = - ]; then
  echo "the VM's mirror trace is checked in the release build (sanitizer builds run no VM)"
else
  [ -s "$VM_TRACE" ] && pass || fail "no mirror trace from the VM at $VM_TRACE (vm.numa writes it)"
  [ -s "$VM_TRACE" ] && check vm "$VM_TRACE"
fi
[ -n "$SHOT_OUT" ] && [ -f "$T/vm.png" ] && cp "$T/vm.png" "$SHOT_OUT"

# Size: a 1,000-tensor model's page stays within a few hundred KiB.
"$NT" gen-model "$T/big" --splits 4 --size 1M --layers 111 --type q4_0 >/dev/null 2>&1
tensors=$("$NT" inspect "$T/big" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["tensor_count"])')
run env LD_PRELOAD="$LIB" NUMA_TRACE="file:$T/big.nttrace" "$LOADER" "$T/big" --strategy per-file
expect_rc 0 -- "the 1,000-tensor load"
check big "$T/big.nttrace"
size=$(stat -c %s "$T/big.html")
echo "a $tensors-tensor model's page: $size bytes"
[ "$tensors" -ge 900 ] && [ "$size" -le $((512 * 1024)) ] && pass ||
  fail "the page of a $tensors-tensor model is $size bytes (at most 512 KiB)"
finish
