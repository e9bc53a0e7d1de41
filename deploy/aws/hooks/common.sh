#!/usr/bin/env bash
# Sourced by every hook: strict mode, the release settings the pipeline wrote, and a log helper.
set -euo pipefail

HOOKS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RELEASE_ENV="${HOOKS_DIR}/../release.env"
if [[ ! -r "$RELEASE_ENV" ]]; then
  echo "release.env missing next to the hooks (${RELEASE_ENV}); the bundle was not built by the pipeline" >&2
  exit 1
fi
# shellcheck source=../release.env.example
source "$RELEASE_ENV"

: "${SERVICE:?release.env must set SERVICE}"
: "${IMAGE:?release.env must set IMAGE}"
: "${PORT:?release.env must set PORT}"
: "${HEALTH_PATH:?release.env must set HEALTH_PATH}"
: "${MEMORY_MIB:?release.env must set MEMORY_MIB}"
: "${CPUS:?release.env must set CPUS}"

# Only digests are deployed: a tag could move between the pull on one instance and the next.
if [[ ! "$IMAGE" =~ @sha256:[0-9a-f]{64}$ ]]; then
  echo "IMAGE must be pinned by digest (name@sha256:...), got: ${IMAGE}" >&2
  exit 1
fi

# shellcheck disable=SC2034  # read by the hooks that source this file
CONTAINER="dojangkok-${SERVICE}"
# Runtime configuration (database URLs, OAuth client ids, the backend's internal address) lives on the instance,
# never in the bundle: ${SERVICE}.env in /etc/dojangkok, or where the agent's DOJANGKOK_CONFIG_DIR says.
# shellcheck disable=SC2034
RUNTIME_ENV="${DOJANGKOK_CONFIG_DIR:-/etc/dojangkok}/${SERVICE}.env"

log() {
  printf '%s [%s %s] %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "${LIFECYCLE_EVENT:-hook}" "$SERVICE" "$*"
}
