#!/bin/bash
# Startup script of a Dojangkok instance template (one per release), rendered by
# ci/src/dojangkok/deploy/rolling.py: every double-braced name below is filled from the service catalogue and the
# release's image reference (by digest), each value shell-quoted. Runs as root on Container-Optimized OS at
# every boot, so it must be idempotent. The managed instance group's health check on {{ port }}{{ health_path }}
# decides whether this instance serves; nothing here reports health itself.
set -euo pipefail

readonly SERVICE={{ service }}
readonly IMAGE={{ image }}
readonly REGISTRY={{ registry }}
readonly PORT={{ port }}
readonly MEMORY_MIB={{ memory_mib }}
readonly CPUS={{ cpus }}
readonly GPU={{ gpu }}

log() { echo "dojangkok-startup[${SERVICE}]: $*"; }

# COS keeps / read-only; docker-credential-gcr writes its config under $HOME.
export HOME=/var/lib/dojangkok
mkdir -p "${HOME}"

gpu_args=()
if [[ "${GPU}" == "true" ]]; then
  # The driver comes from COS's own extension (matches the kernel); the container sees it by bind mount.
  log "installing the NVIDIA driver"
  cos-extensions install gpu
  mount --bind /var/lib/nvidia /var/lib/nvidia
  mount -o remount,exec /var/lib/nvidia
  gpu_args=(
    --volume /var/lib/nvidia/lib64:/usr/local/nvidia/lib64
    --volume /var/lib/nvidia/bin:/usr/local/nvidia/bin
    --device /dev/nvidia0 --device /dev/nvidia-uvm --device /dev/nvidiactl
  )
fi

# Artifact Registry login with the instance's service account (metadata server token), no stored keys.
docker-credential-gcr configure-docker --registries="${REGISTRY}"

log "pulling ${IMAGE}"
for attempt in 1 2 3 4 5; do
  docker pull "${IMAGE}" && break
  [[ ${attempt} == 5 ]] && { log "pull failed"; exit 1; }
  sleep $((attempt * 10))
done

docker rm --force "${SERVICE}" >/dev/null 2>&1 || true
log "starting ${IMAGE} on port ${PORT}"
docker run --detach --name "${SERVICE}" --restart=always \
  --publish "${PORT}:${PORT}" \
  --memory "${MEMORY_MIB}m" --cpus "${CPUS}" \
  --log-driver=gcplogs \
  "${gpu_args[@]}" \
  "${IMAGE}"
