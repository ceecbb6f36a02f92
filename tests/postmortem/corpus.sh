#!/usr/bin/env bash
# corpus.sh NUMA_TRACE: the checked-in post-mortem corpus (corpus/, made by
# corpus/regenerate.sh): each core decoded with its checked-in binary and
# DWARF, offline, must give exactly its golden NAME.json. Nothing is
# compiled and no core is written here, so a compiler or kernel upgrade
# cannot change which DWARF paths are read, and the test runs where
# core_pattern cannot be changed.
NT=$1
. "$(dirname "$0")/../cli/lib.sh"
C=$(cd "$(dirname "$0")/corpus" && pwd)
command -v zstd >/dev/null || { echo "SKIP: zstd not installed (tools/quickstart installs it)"; exit 77; }
for b in o2 o0; do zstd -q -d -f "$C/$b.zst" -o "$T/$b" && chmod +x "$T/$b" || fail "$b.zst does not decompress"; done
zstd -q -d -f "$C/o2.debug.zst" -o "$T/o2.debug" || fail "o2.debug.zst does not decompress"
id=$(readelf -n "$T/o2" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
mkdir -p "$T/debug/.build-id/${id:0:2}" && mv "$T/o2.debug" "$T/debug/.build-id/${id:0:2}/${id:2}.debug"
for golden in "$C"/*.json; do
  name=$(basename "$golden" .json)
  case $name in o0*) exe=$T/o0 ;; *) exe=$T/o2 ;; esac
  run "$NT" postmortem --json --offline --exe "$exe" --debug-dir "$T/debug" "$C/$name.core.zst"
  python3 "$C/normalize.py" "$T/out" "$C" "$T" >"$T/$name.json" 2>"$T/$name.err" || {
    fail "$name: the output is not JSON: $(head -c 300 "$T/out") $(head -c 300 "$T/err")"
    continue
  }
  if diff -u "$golden" "$T/$name.json" >"$T/$name.diff"; then
    pass
  else
    fail "$name: differs from its golden JSON (corpus/regenerate.sh NUMA_TRACE --golden after a deliberate change):
$(head -40 "$T/$name.diff")"
  fi
done
# What the goldens say, so that a regenerated corpus cannot drift into
# nonsense unnoticed.
python3 - "$C" <<'PY' && pass || fail "the goldens do not say what the corpus is for"
import json, os, sys
c = sys.argv[1]
j = lambda n: json.load(open(os.path.join(c, n + ".json")))
for n in ("o2-null-slot", "o2-by-index", "o2-mlock", "o0-null-slot"):
    g = j(n)
    assert g["verdict_source"] == "debug info (libdw)", (n, g["verdict_source"])
    assert [f["code"] for f in g["findings"]] == ["NT001"], (n, g["findings"])
    ls = g["loader_state"]
    assert [s["empty"] for s in ls["mappings"]] == [False, True, False], (n, ls["mappings"])
    assert ls["weight"]["idx"] == 1, (n, ls["weight"])
assert "weights_map" in j("o2-by-index")["loader_state"]["weight"]["from"]
assert j("o2-mlock")["loader_state"]["mlocks"], "mlock slots"
assert j("truncated")["damaged"] and any(w.startswith("PM003") for w in j("truncated")["warnings"])
assert j("bad-notes")["damaged"] and any(w.startswith("PM005") for w in j("bad-notes")["warnings"])
PY
finish
