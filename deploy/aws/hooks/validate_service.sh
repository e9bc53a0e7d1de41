#!/usr/bin/env bash
# ValidateService: the instance joins the green target group only if the service answers its health endpoint.
# A failure here fails the deployment, and CodeDeploy rolls back with traffic still on blue.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

attempts="${HEALTH_ATTEMPTS:-30}"
interval="${HEALTH_INTERVAL_SECONDS:-5}"
url="http://127.0.0.1:${PORT}${HEALTH_PATH}"

for ((i = 1; i <= attempts; i++)); do
  if [[ "$(docker container inspect --format '{{.State.Running}}' "$CONTAINER" 2>/dev/null)" != "true" ]]; then
    log "${CONTAINER} is not running"
    docker logs --tail 50 "$CONTAINER" >&2 || true
    exit 1
  fi
  if curl --fail --silent --show-error --max-time 5 --output /dev/null "$url"; then
    log "healthy: ${url} (attempt ${i}/${attempts})"
    exit 0
  fi
  log "not healthy yet: ${url} (attempt ${i}/${attempts}); retrying in ${interval}s"
  sleep "$interval"
done

log "${url} never became healthy after ${attempts} attempts"
docker logs --tail 50 "$CONTAINER" >&2 || true
exit 1
