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

if shopt -q login_shell && [ -z "${SHELLFOLIO_QUIET-}" ]; then
  printf 'Welcome to the Shellfolio sandbox. Projects are in ~/projects; try:\n'
  printf '  cd projects/<name> && make\n\n'
fi
