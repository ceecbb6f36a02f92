# Helpers for the CLI tests: a temp dir removed on exit, and checks that
# print what went wrong and count failures.
set -u
T=$(mktemp -d "${TMPDIR:-/tmp}/nt-cli-XXXXXX")
trap 'rm -rf "$T"' EXIT
FAILED=0
PASSED=0
fail() { echo "FAIL: $*" >&2; FAILED=$((FAILED + 1)); }
pass() { PASSED=$((PASSED + 1)); }
# run CMD...: runs, captures stdout/stderr in $T/out $T/err, sets RC.
run() { "$@" >"$T/out" 2>"$T/err"; RC=$?; }
expect_rc() {  # expect_rc WANT... -- description
  local want=() d
  while [ "$1" != "--" ]; do want+=("$1"); shift; done
  shift; d="$*"
  for w in "${want[@]}"; do [ "$RC" = "$w" ] && { pass; return 0; }; done
  fail "$d: exit $RC, expected ${want[*]}; stderr: $(head -c 400 "$T/err")"
  return 1
}
expect_grep() {  # expect_grep FILE PATTERN description
  if grep -qE -- "$2" "$1"; then pass; else fail "$3: /$2/ not in $(head -c 400 "$1")"; fi
}
finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ]
}
