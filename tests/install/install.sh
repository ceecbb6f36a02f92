#!/usr/bin/env bash
# cmake --install into a temp prefix, then build and run a consumer through
# find_package(numatrace) and through pkg-config.
BUILD=$1 SRC=$2
. "$(dirname "$0")/../cli/lib.sh"

run cmake --install "$BUILD" --prefix "$T/prefix"; expect_rc 0 -- "cmake --install"
for f in bin/numa-trace include/numatrace/gguf/model.h include/numatrace/result.h; do
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
run "$T/consumer/consumer" "$T/m"; expect_rc 0 -- "consumer opens the model"
expect_grep "$T/out" "^2$" "consumer sees 2 splits"

if [ -n "$pc" ]; then
  run env PKG_CONFIG_PATH="$(dirname "$pc")" pkg-config --cflags --libs numatrace-gguf
  expect_rc 0 -- "pkg-config numatrace-gguf"
  expect_grep "$T/out" "-lnumatrace-gguf" "pkg-config gives the library"
fi
finish
