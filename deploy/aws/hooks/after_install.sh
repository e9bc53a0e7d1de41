#!/usr/bin/env bash
# AfterInstall: make sure the image present locally is exactly the digest this release names.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

digest="${IMAGE##*@}"
if ! docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" | grep -qF "@${digest}"; then
  log "image ${IMAGE} is not present with digest ${digest}; BeforeInstall did not pull it"
  exit 1
fi
log "image ${digest} ready"
