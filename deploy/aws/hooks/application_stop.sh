#!/usr/bin/env bash
# ApplicationStop: stop the container a previous revision started on this instance, if any.
# Fresh green instances have none, so a missing container is not an error.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if docker container inspect "$CONTAINER" >/dev/null 2>&1; then
  log "stopping ${CONTAINER}"
  docker stop --time 30 "$CONTAINER"
  docker rm "$CONTAINER"
else
  log "no ${CONTAINER} container running"
fi
