#!/bin/sh
# Replaces the replicas of one compose service one at a time: start a new container next to the
# old ones, wait until Docker reports it healthy (its healthcheck is /readyz), then stop one old
# container. nginx keeps sending traffic to the healthy ones (proxy_next_upstream), so requests
# keep being served throughout. Usage (in the directory holding docker-compose.yml):
#
#   API_IMAGE=ghcr.io/owner/shellfolio-api:sha-abc sh deploy/roll.sh api
set -eu
service=${1:?usage: roll.sh <service>}
timeout=${ROLL_TIMEOUT:-120}

old=$(docker compose ps -q "$service")
count=$(printf '%s\n' "$old" | grep -c . || true)
[ "$count" -gt 0 ] || count=${REPLICAS:-2}

wait_healthy() {
  id=$1
  waited=0
  while [ "$(docker inspect -f '{{.State.Health.Status}}' "$id")" != healthy ]; do
    waited=$((waited + 2))
    if [ "$waited" -ge "$timeout" ]; then
      echo "roll: $id did not become healthy within ${timeout}s; stopping it, old replicas keep serving" >&2
      docker stop "$id" >/dev/null
      exit 1
    fi
    sleep 2
  done
}

known=$old
for id in $old; do
  docker compose up -d --no-deps --no-recreate --scale "$service=$((count + 1))" "$service"
  new=$(docker compose ps -q "$service" | grep -v -F "$known" | head -n 1)
  [ -n "$new" ] || { echo "roll: no new $service container appeared" >&2; exit 1; }
  known=$(printf '%s\n%s' "$known" "$new")
  wait_healthy "$new"
  docker stop "$id" >/dev/null && docker rm "$id" >/dev/null
  echo "roll: replaced $id with $new"
done
docker compose up -d --no-deps --no-recreate --scale "$service=$count" "$service"
docker exec "$(docker compose ps -q nginx)" nginx -s reload 2>/dev/null || true
