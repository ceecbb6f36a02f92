# bash completion for numa-trace (installed in
# <prefix>/share/bash-completion/completions, where bash-completion loads
# it on first use). Subcommands and options come from numa-trace's own
# --help, so they cannot fall behind; arguments are completed by kind:
# GGUF splits, traces, cores, journal files, processes.

_numa_trace_options() {  # the options numa-trace SUB --help lists
  "$1" "$2" --help 2>/dev/null | sed -n 's/^  \(-[^ ]*\).*/\1/p' | tr ',' '\n' | sed 's/[={].*//'
}

_numa_trace() {
  local cur prev words cword
  _init_completion -s || return
  local cmd=${words[0]} sub="" at i
  for ((at = 1; at < cword; at++)); do
    case ${words[at]} in
      -*) ;;
      *) sub=${words[at]}; break ;;
    esac
  done
  local subs="gen-model inspect check run report placement postmortem diagnose journal demo"
  if [[ -z $sub ]]; then
    if [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W '--help --version' -- "$cur"))
    else
      # a subcommand, or else a program (numa-trace PROGRAM ARGS...)
      COMPREPLY=($(compgen -W "$subs" -- "$cur"))
      ((${#COMPREPLY[@]})) || COMPREPLY=($(compgen -c -- "$cur"))
    fi
    return
  fi
  # `numa-trace PROGRAM ARGS...` is `run`: the rest is the program's.
  if [[ " $subs " != *" $sub "* ]]; then
    _command_offset "$at"
    return
  fi
  # `run` hands everything after -- or the program to the program.
  if [[ $sub == run ]]; then
    for ((i = at + 1; i < cword; i++)); do
      case ${words[i]} in
        --) _command_offset $((i + 1)); return ;;
        -o | --output | --jsonl | --remote-threshold) ((i++)) ;;
        -*) ;;
        *) _command_offset "$i"; return ;;
      esac
    done
  fi
  # Option values.
  case $prev in
    --debug-info) COMPREPLY=($(compgen -W 'auto native gdb none' -- "$cur")); return ;;
    --sources) COMPREPLY=($(compgen -W 'crashed all none' -- "$cur")); return ;;
    --strategy) COMPREPLY=($(compgen -W 'per-file unified mirror' -- "$cur")); return ;;
    --by) COMPREPLY=($(compgen -W 'host code model program' -- "$cur")); return ;;
    --type) COMPREPLY=($(compgen -W 'f32 f16 q8_0 q4_0 q4_K q6_K' -- "$cur")); return ;;
    -D | --directory | --dir | --debug-dir | --hugetlbfs | --sysfs | --procfs) _filedir -d; return ;;
    --file) _filedir journal; return ;;
    --coredump) COMPREPLY=($(compgen -W "$(journalctl MESSAGE_ID=fc2e22bc6ee647b6b90729ab34a250b1 -o cat \
                   --output-fields=COREDUMP_COMM 2>/dev/null | sort -u)" -- "$cur")); return ;;
    --recorder | --facts | --chrome-trace | --html | --jsonl | --exe) _filedir; return ;;
    -o | --output) _filedir nttrace; return ;;
    --pid) _pids; return ;;
    --code) COMPREPLY=($(compgen -W "$(printf 'NT%03d ' $(seq 1 20))" -- "$cur")); return ;;
    --size | --splits | --seed | --layers | --max-tensors | --max-bytes | --alignment | --page-size | --tid | \
      --signal | --fault-address | --where | --since | --host | --event | -n | --lines | --max-threads | \
      --max-frames | --events | --timeout | --watch | --max-pages | --rate | --remote-threshold) return ;;
  esac
  if [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_numa_trace_options "$cmd" "$sub")" -- "$cur"))
    [[ ${COMPREPLY-} == *= ]] && compopt -o nospace
    return
  fi
  # Positional arguments, by kind.
  case $sub in
    inspect | check) _filedir gguf ;;
    gen-model) _filedir ;;
    report) _filedir nttrace ;;
    postmortem)  # cores (core, core.PID, systemd-coredump's *.zst) and folders of them
      _filedir -d
      COMPREPLY+=($(compgen -f -X '!*core*' -- "$cur") $(compgen -f -X '!*.zst' -- "$cur"))
      ;;
    placement) _pids ;;
    run) _command_offset "$cword" ;;
    *) _filedir ;;
  esac
}
complete -F _numa_trace numa-trace
