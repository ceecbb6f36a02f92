#!/usr/bin/env bash
# cmake --install into a temp prefix, then build and run a consumer through
# find_package(numatrace) and through pkg-config.
BUILD=$1 SRC=$2
. "$(dirname "$0")/../cli/lib.sh"

run cmake --install "$BUILD" --prefix "$T/prefix"; expect_rc 0 -- "cmake --install"
for f in bin/numa-trace include/numatrace/gguf/model.h include/numatrace/result.h include/numatrace/hooks.h \
  include/numatrace/recorder_layout.h include/numatrace/trace_format.h include/numatrace/rules/engine.h; do
  [ -e "$T/prefix/$f" ] && pass || fail "installed $f"
done
lib=$(find "$T/prefix" -name libnumatrace-gguf.a | head -1)
[ -n "$lib" ] && pass || fail "installed libnumatrace-gguf.a"
pc=$(find "$T/prefix" -name numatrace-gguf.pc | head -1)
[ -n "$pc" ] && pass || fail "installed numatrace-gguf.pc"

run cmake -S "$SRC/consumer" -B "$T/consumer" -DCMAKE_PREFIX_PATH="$T/prefix"
expect_rc 0 -- "configure consumer with find_package(numatrace)"
run cmake --build "$T/consumer"; expect_rc 0 -- "build consumer"
run "$T/prefix/bin/numa-trace" gen-model "$T/m" --size 1M --splits 2; expect_rc 0 -- "installed numa-trace"
# The installed command finds its post-mortem engine (a private module in
# <libdir>/numa-trace): its diagnose reads these facts and says what they
# lack (DG003, exit 2).
printf '{"mappings": [{"slot": 0}]}' >"$T/facts.json"
run "$T/prefix/bin/numa-trace" diagnose --facts "$T/facts.json"
expect_rc 2 -- "installed numa-trace diagnose"
expect_grep "$T/err" "DG003: facts incomplete" "the installed command ran its engine"
[ -n "$(find "$T/prefix" -path '*/numa-trace/numa-trace-engine.so')" ] && pass || fail "installed numa-trace-engine.so"
run "$T/consumer/consumer" "$T/m"; expect_rc 0 -- "consumer opens the model"
expect_grep "$T/out" "^2$" "consumer sees 2 splits"

rec=$(find "$T/prefix" -name 'libnumatrace.so.0' | head -1)
[ -n "$rec" ] && pass || fail "installed libnumatrace.so.0"
# A loader built against the installed hooks header, with and without the
# installed recorder preloaded.
cat >"$T/loader.c" <<'C'
#include <numatrace/hooks.h>
#include <stdio.h>
int main(void) {
  static char region[4096];
  NUMATRACE_MAPPING_CREATE(0, NUMATRACE_KIND_PER_FILE, region, sizeof region, -1, 0, NULL, NULL, 0);
  NUMATRACE_RESOLVE(1, 1, 0, 8, NULL, "output.weight");
  puts("loaded");
  return 0;
}
C
run cc -std=c11 -I"$T/prefix/include" "$T/loader.c" -o "$T/loader"; expect_rc 0 -- "build a loader with the installed hooks.h"
run "$T/loader"; expect_rc 0 -- "loader without numa-trace"
[ -s "$T/err" ] && fail "loader without numa-trace printed: $(cat "$T/err")" || pass
run env LD_PRELOAD="$rec" "$T/loader"; expect_rc 0 -- "loader with the installed libnumatrace"
expect_grep "$T/err" "NT001 resolve of 'output.weight'" "installed recorder finds NT001"
run env PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --libs numatrace
expect_grep "$T/out" "-lnumatrace" "pkg-config numatrace"

if [ -n "$pc" ]; then
  run env PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs numatrace-gguf
  expect_rc 0 -- "pkg-config numatrace-gguf"
  expect_grep "$T/out" "-lnumatrace-gguf" "pkg-config gives the library"
fi
finish
