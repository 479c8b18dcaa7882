#!/usr/bin/env bash
# Makes sure a Docker engine answers on this machine (Debian, as root), that debootstrap is
# installed for the sandbox image build, and that gVisor's runsc is installed and registered with
# the engine as the runtime `runsc` (SANDBOX_RUNTIME=auto then runs sandboxes under it; see
# docs/threat-model.md). Idempotent: exits fast when all of that is already so. Also what to run on
# an execution host of the runner service (`bun run runner`).
#
#   bash scripts/ensure-docker.sh
#   bash scripts/ensure-docker.sh --register-only   # only merge runsc into daemon.json (no install, no reload)
#
# Registering runsc merges into /etc/docker/daemon.json (every other key is kept):
#   "runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}}
# then reloads dockerd with SIGHUP (runtimes are reloadable; running containers are untouched).
#
# Env: DOCKERD_LOG (default /var/log/dockerd-shellfolio.log), DOCKERD_WAIT_S (default 60),
#      DOCKER_DAEMON_JSON (default /etc/docker/daemon.json).
set -euo pipefail

LOG="${DOCKERD_LOG:-/var/log/dockerd-shellfolio.log}"
WAIT_S="${DOCKERD_WAIT_S:-60}"
DAEMON_JSON="${DOCKER_DAEMON_JSON:-/etc/docker/daemon.json}"
RUNSC_PATH=/usr/bin/runsc
# ptrace: works on any x86-64 host, nested VMs included (kvm needs /dev/kvm with hardware
# virtualisation); --network=none: the sandbox has no network stack beyond loopback, whatever the
# container's network mode says.
RUNSC_ENTRY='{"path": "/usr/bin/runsc", "runtimeArgs": ["--platform=ptrace", "--network=none"]}'

say() { printf 'ensure-docker: %s\n' "$*"; }
die() { printf 'ensure-docker: error: %s\n' "$*" >&2; exit 1; }
# runsc problems are warnings: the engine and the runc sandboxes still work, and whatever asks for
# runsc (SANDBOX_RUNTIME=runsc) fails by name.
warn() { printf 'ensure-docker: warning: %s\n' "$*" >&2; }

engine_answers() { docker info >/dev/null 2>&1; }
# The engine lists runsc among its runtimes (what the runner's SANDBOX_RUNTIME reads).
runsc_listed() { docker info --format '{{json .Runtimes}}' 2>/dev/null | jq -e 'has("runsc")' >/dev/null 2>&1; }

missing_packages() {
  local missing=()
  { command -v dockerd && command -v docker; } >/dev/null 2>&1 || missing+=(docker.io)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  echo "${missing[*]:-}"
}

missing_runsc_packages() {
  local missing=()
  [ -x "$RUNSC_PATH" ] || missing+=(runsc)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  echo "${missing[*]:-}"
}

# Adds the runsc runtime to daemon.json unless one is there already (an operator's own runsc entry,
# e.g. with --platform=kvm, is kept as it is); keeps every other key.
register_runsc() {
  mkdir -p "$(dirname "$DAEMON_JSON")"
  local current='{}'
  if [ -s "$DAEMON_JSON" ]; then
    current="$(cat "$DAEMON_JSON")"
    if ! jq -e 'type == "object"' >/dev/null 2>&1 <<<"$current"; then
      warn "$DAEMON_JSON is not a JSON object; fix it by hand and rerun"
      return 1
    fi
  fi
  jq -e '.runtimes.runsc != null' >/dev/null <<<"$current" && return 0
  local tmp="$DAEMON_JSON.shellfolio.$$"
  if ! jq --argjson want "$RUNSC_ENTRY" '.runtimes = ((.runtimes // {}) + {runsc: $want})' <<<"$current" >"$tmp"; then
    rm -f "$tmp"
    warn "could not write $DAEMON_JSON"
    return 1
  fi
  mv "$tmp" "$DAEMON_JSON"
  say "registered runsc in $DAEMON_JSON"
}

# The engine is up: make sure it lists runsc, reloading it (SIGHUP) after a daemon.json change.
ensure_runsc_listed() {
  [ -z "$(missing_runsc_packages)" ] || { warn "$(missing_runsc_packages) not installed"; return 1; }
  register_runsc || return 1
  runsc_listed && return 0
  local pid
  pid="$(pgrep -x dockerd | head -1 || true)"
  if [ -z "$pid" ]; then
    warn "the engine answers but no local dockerd runs (DOCKER_HOST elsewhere?): register runsc on that host"
    return 1
  fi
  say "reloading dockerd (pid $pid, SIGHUP) to pick up the runsc runtime"
  kill -HUP "$pid"
  local deadline=$((SECONDS + WAIT_S))
  while [ "$SECONDS" -lt "$deadline" ]; do
    runsc_listed && { say "docker engine lists runsc"; return 0; }
    sleep 0.5
  done
  tail -n 5 "$LOG" >&2 2>/dev/null || true
  warn "dockerd does not list runsc ${WAIT_S}s after the reload; see $LOG and $DAEMON_JSON"
  return 1
}

# Ends a successful run: the engine answers; runsc is registered, or a warning says why not.
done_engine_answers() {
  ensure_runsc_listed || warn "the engine runs without runsc: sandboxes run under runc, and SANDBOX_RUNTIME=runsc fails until it is registered"
  say "docker engine answers${1:+ $1}"
  exit 0
}

if [ "${1:-}" = "--register-only" ]; then
  command -v jq >/dev/null 2>&1 || die "jq is needed to edit $DAEMON_JSON (apt-get install jq)"
  register_runsc || exit 1
  exit 0
fi

if [ -z "$(missing_packages)$(missing_runsc_packages)" ] && engine_answers && runsc_listed; then
  say "docker engine already answers with runsc registered; debootstrap present"
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
missing="$(missing_runsc_packages)"
if [ -n "$missing" ]; then
  say "installing: $missing (gVisor)"
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086 # word splitting of the package list is intended
  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null; } ||
    warn "apt-get install $missing failed"
fi

if engine_answers; then
  done_engine_answers
fi

# Starting the engine ourselves: register first, so it starts with runsc.
[ -n "$(missing_runsc_packages)" ] || register_runsc || true

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
    done_engine_answers
  fi
  die "dockerd is running but 'docker info' does not answer after ${WAIT_S}s; see $LOG"
fi

start_dockerd
if wait_for_engine "$DOCKERD_PID"; then
  done_engine_answers "(pid $DOCKERD_PID)"
fi

# The usual failure in containers/VMs without full netfilter: the default bridge cannot be set up.
if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
  say "dockerd exited; retrying without the bridge network and iptables"
  tail -n 5 "$LOG" | sed 's/^/  dockerd: /' >&2 || true
  rm -f /var/run/docker.pid
  start_dockerd --bridge=none --iptables=false
  if wait_for_engine "$DOCKERD_PID"; then
    done_engine_answers "(pid $DOCKERD_PID, --bridge=none --iptables=false)"
  fi
fi

tail -n 20 "$LOG" >&2 || true
die "docker engine did not answer within ${WAIT_S}s; see $LOG"
