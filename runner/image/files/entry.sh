#!/bin/bash
# Container entry point of the Shellfolio sandbox (runs as coder, root filesystem read-only).
#
# 1. Makes ~/projects in the workspace tmpfs (/home/coder). The session's project is copied into
#    ~/projects/<slug> by the runner when the session opens, from inside the container (an exec of
#    tar): files copied into a tmpfs from outside (the engine's archive upload) may not land in it.
# 2. With --handshake (used by the runner): starts the login shell at once, which announces
#    readiness with an invisible OSC sequence and waits for the handshake (/etc/bash.bashrc). A pooled
#    container waits there, its workspace seeded and its shell started, until a session claims it;
#    the runner has sized the TTY by then. The shell's start-up is paid before a visitor arrives
#    (under gVisor it is tens of milliseconds).
# 3. Without it, an interactive login shell in the home directory.
set -u
umask 022

mkdir -p "$HOME/projects"

if [ "${1:-}" = "--handshake" ]; then
  export SHELLFOLIO_HANDSHAKE=1
fi

cd "$HOME" || exit 1
exec bash --login
