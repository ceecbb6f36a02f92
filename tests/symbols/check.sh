#!/usr/bin/env bash
# check.sh LIBRARY ALLOWLIST: every symbol LIBRARY imports (nm -D
# --undefined-only, versions dropped) is listed in ALLOWLIST (one per line,
# '#' comments). What runs inside the traced program may only call what was
# reviewed for that: a new import fails here, naming it.
lib=$1 allow=$2
command -v nm >/dev/null || { echo "SKIP: nm not installed (binutils)"; exit 77; }
imports=$(nm -D --undefined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | sort -u) || exit 1
[ -n "$imports" ] || { echo "FAIL: no imports read from $lib"; exit 1; }
allowed=$(sed 's/#.*//; s/[[:space:]]//g; /^$/d' "$allow" | sort -u)
extra=$(comm -23 <(echo "$imports") <(echo "$allowed"))
if [ -n "$extra" ]; then
  echo "FAIL: $(basename "$lib") imports what $(basename "$allow") does not allow:"
  echo "$extra" | sed 's/^/  /'
  echo "(review where each is called from: the in-process rules, lib/recorder/src/recorder.cpp; then add it with why)"
  exit 1
fi
echo "ok: $(basename "$lib"): $(echo "$imports" | wc -l) imports, all allowed"
