#!/usr/bin/env bash
# BeforeInstall: log in to ECR with the instance role and pull the release image by digest,
# so ApplicationStart never waits on the network.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

registry="${IMAGE%%/*}"
if [[ "$registry" =~ ^[0-9]{12}\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$ ]]; then
  region="${BASH_REMATCH[1]}"
  log "logging in to ${registry}"
  # The password goes through a pipe, never argv; logout afterwards so no token stays on the host.
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
  trap 'docker logout "$registry" >/dev/null 2>&1 || true' EXIT
else
  log "registry ${registry} is not ECR; pulling without login"
fi

log "pulling ${IMAGE}"
docker pull --quiet "$IMAGE"
