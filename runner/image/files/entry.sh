#!/bin/bash
# Container entry point of the Shellfolio sandbox (runs as coder, root filesystem read-only).
#
# 1. Seeds the workspace tmpfs (/home/coder) with the projects baked into the image: files copied
#    into a tmpfs from outside (the engine's archive upload) may not land in it, copying from inside
#    always does.
# 2. With --handshake (used by the runner): starts the login shell at once, which announces
#    readiness with an invisible OSC sequence and waits for the handshake (/etc/bash.bashrc). A pooled
#    container waits there, its workspace seeded and its shell started, until a session claims it;
#    the runner has sized the TTY by then. The shell's start-up is paid before a visitor arrives
#    (under gVisor it is tens of milliseconds).
# 3. Without it, an interactive login shell in the home directory.
set -u
umask 022

mkdir -p "$HOME/projects"
cp -a /opt/shellfolio/projects/. "$HOME/projects/" 2>/dev/null || echo 'shellfolio: could not copy the projects into the workspace' >&2

if [ "${1:-}" = "--handshake" ]; then
  export SHELLFOLIO_HANDSHAKE=1
fi

cd "$HOME" || exit 1
exec bash --login
