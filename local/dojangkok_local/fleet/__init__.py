"""Stands in for EC2 and GCE instances: each one a network namespace with its own container store, where the release
runs under Debian's podman through the production CodeDeploy hooks and GCE startup script, unmodified.

An instance has its own address on a bridge (`dkfleet0`, 10.210.0.0/24) and its own loopback, so every release
listens on the catalogue's port as in production, and the load balancer reaches each instance at its address.
What production finds on the machine image is provided in the instance's PATH and config, nothing else:
- `docker`: podman, with the instance's own storage, runc, host networking (= the instance's namespace) and
  ulimits this sandbox allows; on a GCE instance also Container-Optimized OS's logging driver (gcplogs) mapped to
  podman's own, and no GPU devices (there is no GPU here);
- `docker-credential-gcr`, `cos-extensions`: COS tools, which have nothing to do against the local registry;
- the local registry where the images are (127.0.0.1:PORT, 5000 unless told) relayed from the instance's loopback to
  the host's;
- the runtime configuration the hooks read (`Fleet.config`, e.g. frontend.env naming the backend's internal address),
  in the instance's own directory, which the CodeDeploy agent's DOJANGKOK_CONFIG_DIR names.
Processes enter an instance with `nsenter --net` (not `ip netns exec`, whose fresh /sys hides the cgroup mounts).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

BRIDGE = "dkfleet0"
NETWORK = ipaddress.ip_network("10.210.0.0/24")
GATEWAY = str(next(NETWORK.hosts()))
NETNS_PREFIX, ROOT_PREFIX = "dkf-", "dojangkok-fleet-"
REGISTRY_PORT = 5000  # the local registry's port, as image references name it (127.0.0.1:5000/…)

DOCKER = """#!/usr/bin/python3
# docker on the instance: podman with this instance's store and settings.
import os, sys

os.environ.update(CONTAINERS_CONF={conf!r}, CONTAINERS_STORAGE_CONF={storage!r},
                  CONTAINERS_REGISTRIES_CONF={registries!r})
args, given = [], iter(sys.argv[1:])
for arg in given:
    if arg == "--cpus":  # a limit above the host's CPUs is refused: this host may have fewer than the machine type
        args += [arg, str(min(float(next(given, "1")), os.cpu_count() or 1))]
        continue
    if arg == "--log-driver=gcplogs":  # COS's logging agent: podman keeps the log itself
        arg = "--log-driver=k8s-file"
    if arg in ("--device", "--volume"):  # no GPU on this host: its devices and driver mounts are left out
        value = next(given, "")
        if value.startswith(("/dev/nvidia", "/var/lib/nvidia")):
            continue
        args += [arg, value]
        continue
    args.append(arg)
os.execvp("podman", ["podman", *args])
"""
MOUNT = """#!/bin/sh
# mount on a GCE instance: the GPU driver's bind mounts have nothing to mount on a host without a GPU.
case "$*" in *nvidia*) exit 0 ;; esac
exec /bin/mount "$@"
"""
NOOP = "#!/bin/sh\n# {what}: nothing to do against the local registry, on a host without a GPU.\nexit 0\n"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


@dataclass
class Instance:
    """One instance: its namespace, address and container store; `run` executes a script on it."""

    name: str
    address: str
    root: Path
    release: str = ""  # the image the cloud told it to run (set by the emulator that launched it)
    relays: list[subprocess.Popen] = field(default_factory=list)

    @property
    def netns(self) -> str:  # from the address: unique in the fleet, and short enough for a veth peer's name
        return NETNS_PREFIX + self.address.rsplit(".", 1)[1]

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def environment(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "DOJANGKOK_CONFIG_DIR": str(self.root / "etc"),  # deploy/aws/hooks/common.sh: not the host's /etc
            **(extra or {}),
        }

    def run(self, script: Path | str, *, env: Mapping[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess:
        """Run a shell script on the instance, as root, in its network namespace; output captured."""
        return subprocess.run(
            ["nsenter", f"--net=/run/netns/{self.netns}", "bash", str(script)],
            env=self.environment(env), cwd=cwd or self.root, capture_output=True, text=True, timeout=timeout,
        )

    def docker(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.netns}", str(self.bin / "docker"), *args],
                              env=self.environment(), capture_output=True, text=True)


class Fleet:
    """The instances' network and the instances on it; `launch` and `terminate` as an Auto Scaling group would."""

    def __init__(self, root: Path | None = None, registry_port: int = REGISTRY_PORT) -> None:
        self.root = root or Path(tempfile.mkdtemp(prefix=ROOT_PREFIX))
        self.registry_port = registry_port  # relayed into every instance: image references name 127.0.0.1:PORT
        self.config: dict[str, str] = {}  # file name -> text: every instance's runtime configuration, from its launch
        self.instances: dict[str, Instance] = {}
        self.ever: dict[str, Instance] = {}  # address -> instance, kept after termination: who served a request
        self._addresses = (str(a) for a in list(NETWORK.hosts())[1:])
        self._host_relays: list[subprocess.Popen] = []
        self._lock = threading.Lock()

    def start(self) -> Fleet:
        reap()
        if sh("ip", "link", "show", BRIDGE, check=False).returncode != 0:
            sh("ip", "link", "add", BRIDGE, "type", "bridge")
            sh("ip", "addr", "add", f"{GATEWAY}/{NETWORK.prefixlen}", "dev", BRIDGE)
        sh("ip", "link", "set", BRIDGE, "up")
        port = self.registry_port  # the bridge side of the host relay: instance -> gateway:port -> host 127.0.0.1:port
        self._host_relays.append(subprocess.Popen(
            ["socat", f"TCP-LISTEN:{port},bind={GATEWAY},fork,reuseaddr", f"TCP:127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return self

    def launch(self, name: str) -> Instance:
        with self._lock:
            address = next(self._addresses)
        instance = Instance(name, address, self.root / name)
        ns, veth = instance.netns, "v" + instance.netns
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "link", "set", veth, "master", BRIDGE, "up")
        for command in (["ip", "addr", "add", f"{address}/{NETWORK.prefixlen}", "dev", "eth0"],
                        ["ip", "link", "set", "eth0", "up"], ["ip", "link", "set", "lo", "up"],
                        ["ip", "route", "add", "default", "via", GATEWAY]):
            sh("ip", "netns", "exec", ns, *command)
        self._write_config(instance)
        port = self.registry_port
        instance.relays.append(subprocess.Popen(
            ["nsenter", f"--net=/run/netns/{ns}", "socat",
             f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr", f"TCP:{GATEWAY}:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        self.instances[name] = instance
        self.ever[address] = instance
        return instance

    def _write_config(self, instance: Instance) -> None:
        root = instance.root
        for sub in ("bin", "home", "storage", "run", "tmp", "etc"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        for name, text in self.config.items():
            (root / "etc" / name).write_text(text)
        (root / "containers.conf").write_text(
            "[containers]\nnetns = \"host\"\nlog_driver = \"k8s-file\"\n"
            "default_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n"
            "[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n"
            f"tmp_dir = \"{root / 'tmp'}\"\n"
        )
        (root / "storage.conf").write_text(
            f"[storage]\ndriver = \"overlay\"\ngraphroot = \"{root / 'storage'}\"\nrunroot = \"{root / 'run'}\"\n")
        (root / "registries.conf").write_text(
            f"[[registry]]\nlocation = \"127.0.0.1:{self.registry_port}\"\ninsecure = true\n")
        docker = DOCKER.format(conf=str(root / "containers.conf"), storage=str(root / "storage.conf"),
                               registries=str(root / "registries.conf"))
        shims = {"docker": docker, "mount": MOUNT, "docker-credential-gcr": NOOP.format(what="docker-credential-gcr"),
                 "cos-extensions": NOOP.format(what="cos-extensions")}
        for name, text in shims.items():
            (root / "bin" / name).write_text(text)
            (root / "bin" / name).chmod(0o755)

    def terminate(self, name: str) -> None:
        instance = self.instances.pop(name, None)
        if instance is None:
            return
        instance.docker("rm", "--force", "--all", "--time", "2")
        for relay in instance.relays:
            relay.terminate()
        sh("ip", "netns", "del", instance.netns, check=False)
        subprocess.run(["podman", "--root", str(instance.root / "storage"), "--runroot", str(instance.root / "run"),
                        "system", "reset", "--force"], capture_output=True, check=False,
                       env={**os.environ, "CONTAINERS_CONF": str(instance.root / "containers.conf")})
        shutil.rmtree(instance.root, ignore_errors=True)

    def stop(self) -> None:
        for name in list(self.instances):
            self.terminate(name)
        for relay in self._host_relays:
            relay.terminate()
        sh("ip", "link", "del", BRIDGE, check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def reap() -> None:
    """What a killed run left behind: its instances' processes and namespaces, their mounts and stores."""
    for line in sh("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.strip() else ""
        if name.startswith(NETNS_PREFIX):
            for pid in sh("ip", "netns", "pids", name, check=False).stdout.split():
                sh("kill", "-9", pid, check=False)
            sh("ip", "netns", "del", name, check=False)
    sh("pkill", "--full", f"socat TCP-LISTEN:[0-9]+,bind={GATEWAY}", check=False)  # its host relays
    stale = Path(tempfile.gettempdir()).glob(f"{ROOT_PREFIX}*")
    for root in stale:
        mounts = sh("findmnt", "--list", "--noheadings", "--output", "TARGET", check=False).stdout.split()
        for mount in sorted((m for m in mounts if m.startswith(str(root))), reverse=True):
            sh("umount", "--lazy", mount, check=False)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running() -> Iterator[Fleet]:
    fleet = Fleet().start()
    try:
        yield fleet
    finally:
        fleet.stop()
