#!/usr/bin/env bash
# ApplicationStart: run the release with the catalogue's memory/CPU limits on the catalogue's port.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

docker rm --force "$CONTAINER" >/dev/null 2>&1 || true

run_args=(
  --detach
  --name "$CONTAINER"
  --restart unless-stopped
  --memory "${MEMORY_MIB}m"
  --memory-swap "${MEMORY_MIB}m"
  --cpus "$CPUS"
  --publish "${PORT}:${PORT}"
  --env "PORT=${PORT}"
  --label "dojangkok.service=${SERVICE}"
  --label "dojangkok.image=${IMAGE}"
)
if [[ -r "$RUNTIME_ENV" ]]; then
  run_args+=(--env-file "$RUNTIME_ENV")
fi

log "starting ${CONTAINER} from ${IMAGE} (${MEMORY_MIB} MiB, ${CPUS} CPU, port ${PORT})"
docker run "${run_args[@]}" "$IMAGE"
