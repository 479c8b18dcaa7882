#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine (Debian, as root) and that debootstrap is
# installed for the sandbox image build. Idempotent: exits fast when `docker info` already answers.
#
#   bash scripts/ensure-docker.sh
#
# Env: DOCKERD_LOG (default /var/log/dockerd-shellfolio.log), DOCKERD_WAIT_S (default 60).
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/dockerd-shellfolio.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"

say() { printf 'ensure-docker: %s\n' "$*"; }
die() { printf 'ensure-docker: error: %s\n' "$*" >&2; exit 1; }

engine_answers() { docker info >/dev/null 2>&1; }

missing_packages() {
  local missing=()
  { command -v dockerd && command -v docker; } >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  echo "${missing[*]:-}"
}

if [ -z "$(missing_packages)" ] && engine_answers; then
  say "docker engine already answers; debootstrap present"
  exit 0
fi

[ "$(id -u)" -eq 0 ] || die "must run as root to install packages and start dockerd (try: sudo bash $0)"
[ -r /etc/debian_version ] || die "this script supports Debian only (no /etc/debian_version); install Docker yourself and rerun"

missing="$(missing_packages)"
if [ -n "$missing" ]; then
  say "installing: $missing"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed (is the Debian mirror reachable?)"
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
    die "apt-get install $missing failed"
fi

if engine_answers; then
  say "docker engine answers"
  exit 0
fi

wait_for_engine() {
  local pid="$1" deadline=$((SECONDS + WAIT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    engine_answers && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

start_dockerd() {
  say "starting dockerd${*:+ $*} (log: $LOG)"
  # why: setsid detaches dockerd from this shell so it outlives the caller (tests, CI step)
  setsid dockerd "$@" >>"$LOG" 2>&1 </dev/null &
  DOCKERD_PID=$!
}

# A dockerd may already be running but still starting up; give it the wait before starting another.
if pgrep -x dockerd >/dev/null 2>&1; then
  say "dockerd is running but not answering yet; waiting up to ${WAIT_S}s"
  if wait_for_engine "$(pgrep -x dockerd | head -1)"; then
    say "docker engine answers"
    exit 0
  fi
  die "dockerd is running but 'docker info' does not answer after ${WAIT_S}s; see $LOG"
fi

start_dockerd
if wait_for_engine "$DOCKERD_PID"; then
  say "docker engine answers (pid $DOCKERD_PID)"
  exit 0
fi

# The usual failure in containers/VMs without full netfilter: the default bridge cannot be set up.
if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
  say "dockerd exited; retrying without the bridge network and iptables"
  tail -n 5 "$LOG" | sed 's/^/  dockerd: /' >&2 || true
  rm -f /var/run/docker.pid
  start_dockerd --bridge=none --iptables=false
  if wait_for_engine "$DOCKERD_PID"; then
    say "docker engine answers (pid $DOCKERD_PID, --bridge=none --iptables=false)"
    exit 0
  fi
fi

tail -n 20 "$LOG" >&2 || true
die "docker engine did not answer within ${WAIT_S}s; see $LOG"
