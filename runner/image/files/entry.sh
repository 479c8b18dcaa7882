#!/bin/bash
# Container entry point of the Shellfolio sandbox (runs as coder, root filesystem read-only).
#
# 1. Seeds the workspace tmpfs (/home/coder) with the projects baked into the image: files copied
#    into a tmpfs from outside are unreliable (docker cp/putArchive into a tmpfs mount is reported not to land in it), copying from inside always lands in it.
# 2. With --handshake (used by the runner): turns echo off, announces readiness with an invisible
#    OSC sequence and reads KEY=VALUE lines up to an empty line. A pooled container waits here, with
#    its workspace already seeded, until a session claims it; the runner has resized the TTY by then,
#    so the shell starts at the visitor's terminal size.
# 3. Starts an interactive login shell in the home directory.
set -u
umask 022

mkdir -p "$HOME/projects"
cp -a /opt/shellfolio/projects/. "$HOME/projects/" 2>/dev/null || echo 'shellfolio: could not copy the projects into the workspace' >&2

if [ "${1:-}" = "--handshake" ]; then
  stty -echo
  printf '\033]6973;ready\007'
  while IFS= read -r line && [ -n "$line" ]; do
    case "$line" in
      [A-Za-z_]*=*) export "${line?}" ;;
    esac
  done
  stty echo
fi

cd "$HOME" || exit 1
exec bash --login
