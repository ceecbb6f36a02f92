#!/usr/bin/env bash
# The bash completion, in a real bash with bash-completion loaded:
# subcommands, options (from numa-trace's --help), option values, and file
# arguments by kind.
NT=$1 COMPLETION=$2
. "$(dirname "$0")/lib.sh"
[ -r /usr/share/bash-completion/bash_completion ] ||
  { echo "SKIP: bash-completion not installed (tools/quickstart installs it)"; exit 77; }
mkdir -p "$T/bin" "$T/files/sub"
ln -s "$NT" "$T/bin/numa-trace"
touch "$T/files/m-00001-of-00002.gguf" "$T/files/notes.txt" "$T/files/a.nttrace" "$T/files/core.123" \
  "$T/files/core.x.1.zst" "$T/files/r.journal"
# complete LINE: what completing the end of LINE offers, one per line, sorted.
complete_line() {
  PATH="$T/bin:$PATH" bash -c '
    . /usr/share/bash-completion/bash_completion
    . "$1"
    COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
    read -ra COMP_WORDS <<<"$COMP_LINE"
    [[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    _numa_trace numa-trace "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort -u' _ "$COMPLETION" "$1"
}
expect_words() {  # expect_words LINE WORD... : every WORD is offered
  local line=$1 w
  shift
  complete_line "$line" >"$T/offered"
  for w in "$@"; do
    grep -qxF -- "$w" "$T/offered" && pass || fail "'$line<TAB>' does not offer '$w': $(tr '\n' ' ' <"$T/offered")"
  done
}
expect_not() {  # expect_not LINE WORD... : no WORD is offered
  local line=$1 w
  shift
  complete_line "$line" >"$T/offered"
  for w in "$@"; do
    grep -qxF -- "$w" "$T/offered" && fail "'$line<TAB>' offers '$w'" || pass
  done
}
cd "$T/files" || exit 1
expect_words "numa-trace p" postmortem placement
expect_words "numa-trace j" journal
expect_words "numa-trace postmortem --deb" --debug-info --debug-dir
expect_words "numa-trace postmortem --debug-info " auto native gdb none
expect_words "numa-trace journal --by " host code model program
expect_words "numa-trace journal --" --directory --file --by --json
expect_words "numa-trace inspect " m-00001-of-00002.gguf sub
expect_not "numa-trace inspect " notes.txt a.nttrace
expect_words "numa-trace report " a.nttrace
expect_not "numa-trace report " m-00001-of-00002.gguf
expect_words "numa-trace postmortem " core.123 core.x.1.zst sub
expect_not "numa-trace postmortem " notes.txt
expect_words "numa-trace journal --file " r.journal
expect_words "numa-trace run -- ech" echo
expect_words "numa-trace run --stderr ech" echo
expect_words "numa-trace run -o " a.nttrace
finish
