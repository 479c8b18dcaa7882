# /etc/bash.bashrc of the Shellfolio sandbox: interactive shells (login shells source it via /etc/profile).
[ -z "${PS1-}" ] && return

shopt -s checkwinsize
HISTCONTROL=ignoredups
HISTSIZE=1000

# The OSC 6973 prefix is invisible (terminals ignore unknown OSC sequences); the runner uses it to
# know the shell is waiting at its prompt, so the command policy is checked for shell lines only and
# never for input typed into a running program.
PS1='\[\e]6973;prompt\a\e[1;32m\]coder@shellfolio\[\e[0m\]:\[\e[1;34m\]\w\[\e[0m\]\$ '
PS2='\[\e]6973;more\a\]> '

alias ls='ls --color=auto'
alias ll='ls -l'

# The runner's handshake (entry.sh --handshake): the shell is already up while the container waits
# in the warm pool. `read -s` turns echo off before it prints the ready marker (an invisible OSC
# sequence), so the handshake is never echoed; it is one line of tab-separated KEY=VALUE pairs (the
# runner refuses control characters in values), sent after the runner sized the TTY.
if [ -n "${SHELLFOLIO_HANDSHAKE-}" ]; then
  unset SHELLFOLIO_HANDSHAKE
  IFS=$'\t' read -rs -a __shellfolio_env -p $'\e]6973;ready\a'
  for __shellfolio_kv in "${__shellfolio_env[@]}"; do
    case "$__shellfolio_kv" in
      SHELLFOLIO_PROJECT=*) __shellfolio_project=${__shellfolio_kv#*=} ;;
      [A-Za-z_]*=*) export "${__shellfolio_kv?}" ;;
    esac
  done
  # The session starts in its project's folder (the runner copied it in before the handshake), so
  # the first suggested command works as typed; `cd` alone still goes home.
  case "${__shellfolio_project-}" in
    '' | *[!A-Za-z0-9_-]*) ;;
    *) [ -d "$HOME/projects/$__shellfolio_project" ] && cd "$HOME/projects/$__shellfolio_project" ;;
  esac
  unset __shellfolio_env __shellfolio_kv __shellfolio_project
fi

# `help` prints the project's help, the same text the WASI shell prints; the runner writes it to
# ~/.shellfolio/help with the project's files (runner/src/help.ts). Without it, bash's own help.
help() {
  if [ -r "$HOME/.shellfolio/help" ]; then cat "$HOME/.shellfolio/help"; else builtin help "$@"; fi
}

if shopt -q login_shell && [ -z "${SHELLFOLIO_QUIET-}" ]; then
  if [ "$PWD" != "$HOME" ]; then
    printf 'Welcome to the Shellfolio sandbox: you are in the project'"'"'s folder. Type help for what to try.\n\n'
  else
    printf 'Welcome to the Shellfolio sandbox. Projects are in ~/projects; try:\n'
    printf '  cd projects/<name> && make\n\n'
  fi
fi
