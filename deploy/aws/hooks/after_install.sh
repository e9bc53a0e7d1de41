#!/usr/bin/env bash
# AfterInstall: make sure the image present locally is exactly the digest this release names.
# shellcheck source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

digest="${IMAGE##*@}"
# Read the whole answer before matching: `docker … | grep -q` under pipefail fails whenever grep stops reading
# before docker has written everything (SIGPIPE), which made this check flaky.
repo_digests=$(docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$IMAGE" 2>/dev/null || true)
if ! grep -qF "@${digest}" <<<"$repo_digests"; then
  log "image ${IMAGE} is not present with digest ${digest}; BeforeInstall did not pull it"
  exit 1
fi
log "image ${digest} ready"
