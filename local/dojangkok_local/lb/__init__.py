"""Stands in for the ALB and the GCP backend services: Debian's haproxy, driven by the emulators' state.

One frontend per listener (an ALB listener, a backend service's forwarding rule), one backend per target group or
instance group, each backend with a fixed number of server slots (`server-template`) that targets fill at run
time through haproxy's runtime API, so nothing reloads while traffic flows:

- registering a target sets a slot's address and enables it; haproxy's own health check (path, interval,
  thresholds of the target group) decides when it takes requests;
- deregistering drains it (no new requests, in-flight ones finish) and, after the deregistration delay, shuts
  what is still open, as an ALB does;
- a Blue/Green listener switch is one `set map` of the listener's route: atomic, request by request.

Every response carries `X-Dojangkok-Server: <backend>/<slot> <address>`, so a load generator can tell who served it;
`/metrics` on the stats port is haproxy's Prometheus exporter.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from dojangkok_local.registry import free_port

SERVER_HEADER = "X-Dojangkok-Server"
SERVER_TIMEOUT_SECONDS = 30  # how long the load balancer waits for an instance's answer before its 504
SLOTS = 8  # servers a backend can hold at once: blue + green, or a group and its surge


@dataclass(frozen=True)
class HealthCheck:
    """What decides that a target takes traffic: a target group's or a backend service's health check."""

    path: str = "/"
    interval_seconds: float = 1.0
    healthy_threshold: int = 2
    unhealthy_threshold: int = 2
    timeout_seconds: float = 5.0  # how long one check may take (ALB and Google default: 5 s)


@dataclass
class Backend:
    name: str
    health: HealthCheck
    port: int  # the targets' traffic port
    slots: dict[str, int] = field(default_factory=dict)  # target -> slot number

    def free_slot(self) -> int:
        used = set(self.slots.values())
        return next(n for n in range(1, SLOTS + 1) if n not in used)


class LoadBalancer:
    """haproxy on 127.0.0.1 with frontends routed through a map, backends filled through the runtime API.

    With an `internal_address` (the fleet's gateway), every frontend also listens there: the instances reach one
    service through another's load balancer, as through an internal ALB."""

    def __init__(self, internal_address: str = "") -> None:
        self.internal_address = internal_address
        self.dir = Path(tempfile.mkdtemp(prefix="dojangkok-lb-"))
        self.socket = self.dir / "admin.sock"
        self.routes = self.dir / "routes.map"
        self.stats_port = free_port()
        self.frontends: dict[str, int] = {}  # name -> port on 127.0.0.1
        self.first_routes: dict[str, str] = {}  # frontend -> the backend it routes to when haproxy starts
        self.backends: dict[str, Backend] = {}
        self.process: subprocess.Popen | None = None
        self.switches: list[tuple[float, str, str]] = []  # (time.monotonic() once done, frontend, backend)
        self.steps: list[tuple[float, str]] = []  # (time.monotonic(), what changed in a pool): each rollout step
        self._lock = threading.Lock()

    # ---- configuration (before traffic) ---------------------------------------------------------------------
    def add_backend(self, name: str, port: int, health: HealthCheck) -> None:
        self.backends[name] = Backend(name, health, port)

    def add_frontend(self, name: str, backend: str, port: int = 0) -> int:
        """A listener on 127.0.0.1 (a free port unless given) that routes to ``backend`` until switched."""
        self.frontends[name] = port or free_port()
        self.first_routes[name] = backend
        return self.frontends[name]

    def config(self) -> str:
        lines = [
            "global",
            f"    stats socket {self.socket} mode 600 level admin",
            "    log stdout format raw local0 info",
            "defaults",
            "    mode http",
            "    log global",
            "    option httplog",  # one line a request in haproxy.log: who served it, and how it ended
            "    option dontlog-normal",  # ...but only the failed ones
            "    timeout connect 2s",
            "    timeout client 30s",
            f"    timeout server {SERVER_TIMEOUT_SECONDS}s",
            "    retries 0",  # a failed request is a failed request: no hidden retry makes a bad switch look good
            "frontend stats",
            f"    bind 127.0.0.1:{self.stats_port}",
            "    http-request use-service prometheus-exporter if { path /metrics }",
            "    stats enable",
            "    stats uri /stats",
        ]
        for name, port in self.frontends.items():
            lines += [
                f"frontend {name}",
                f"    bind 127.0.0.1:{port}",
                *([f"    bind {self.internal_address}:{port}"] if self.internal_address else []),
                f"    use_backend %[str({name}),map({self.routes})]",
                f"    http-response set-header {SERVER_HEADER} \"%b/%s %si\"",
            ]
        for backend in self.backends.values():
            check = backend.health
            lines += [
                f"backend {backend.name}",
                f"    option httpchk GET {check.path}",
                f"    timeout check {int(check.timeout_seconds * 1000)}ms",
                "    http-check expect status 200",
                f"    default-server inter {int(check.interval_seconds * 1000)}ms rise {check.healthy_threshold} "
                f"fall {check.unhealthy_threshold}",
                f"    server-template slot 1-{SLOTS} 127.0.0.1:{backend.port} check disabled",
            ]
        return "\n".join(lines) + "\n"

    def start(self) -> LoadBalancer:
        self.routes.write_text("".join(f"{k} {v}\n" for k, v in self.first_routes.items()))
        path = self.dir / "haproxy.cfg"
        path.write_text(self.config())
        subprocess.run(["haproxy", "-c", "-q", "-f", str(path)], check=True)
        self.log = self.dir / "haproxy.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(["haproxy", "-f", str(path)], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(100):
            if self.socket.exists():
                return self
            time.sleep(0.05)
        raise RuntimeError(f"haproxy did not start: {self.log.read_text()}")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ---- runtime ------------------------------------------------------------------------------------------------
    def command(self, line: str) -> str:
        with self._lock, socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.connect(str(self.socket))
            conn.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := conn.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def register(self, backend: str, target: str, address: str) -> None:
        """Fill a slot with the target and let haproxy's health check admit it."""
        be = self.backends[backend]
        slot = be.slots.get(target) or be.free_slot()
        be.slots[target] = slot
        server = f"{backend}/slot{slot}"
        self.command(f"set server {server} addr {address} port {be.port}")
        # A new target starts unhealthy and `rise` checks admit it; draining while marked down, so not one request
        # reaches it in between (haproxy keeps a server's last health across maintenance).
        self.command(f"enable health {server}")
        self.command(f"set server {server} state drain")
        self.command(f"set server {server} health down")
        self.command(f"set server {server} state ready")
        self.steps.append((time.monotonic(), f"{target} in"))

    def deregister(self, backend: str, target: str, delay_seconds: float) -> threading.Thread | None:
        """Drain the target now; after the delay close what is still open and free the slot (in the background)."""
        be = self.backends[backend]
        slot = be.slots.get(target)
        if slot is None:
            return None
        self.command(f"set server {backend}/slot{slot} state drain")
        self.steps.append((time.monotonic(), f"{target} draining"))

        def finish() -> None:
            time.sleep(delay_seconds)
            self.command(f"set server {backend}/slot{slot} state maint")
            self.command(f"shutdown sessions server {backend}/slot{slot}")
            be.slots.pop(target, None)

        thread = threading.Thread(target=finish, daemon=True, name=f"drain-{backend}-{target}")
        thread.start()
        return thread

    def route(self, frontend: str, backend: str) -> None:
        """Send the frontend's next requests to ``backend``: one atomic map update."""
        self.command(f"set map {self.routes} {frontend} {backend}")
        self.switches.append((time.monotonic(), frontend, backend))

    def routed_to(self, frontend: str) -> str:
        for line in self.command(f"show map {self.routes}").splitlines():
            parts = line.split()
            if len(parts) >= 3 and parts[1] == frontend:
                return parts[2]
        return ""

    def servers(self, backend: str) -> dict[str, str]:
        """target -> haproxy's view of it: UP, DOWN, DRAIN, MAINT (and the transitions in between)."""
        states = {}
        for line in self.command(f"show servers state {backend}").splitlines()[2:]:
            fields = line.split()
            if len(fields) > 6:  # srv_op_state: 0 stopped, 1 starting, 2 running, 3 stopping
                admin = int(fields[6])  # srv_admin_state: 0x63 maintenance (forced, inherited, DNS), 0x18 drain
                states[fields[3]] = ("MAINT" if admin & 0x63 else "DRAIN" if admin & 0x18
                                     else "UP" if fields[5] in ("2", "3") else "DOWN")
        by_slot = {f"slot{n}": t for t, n in self.backends[backend].slots.items()}
        return {by_slot[s]: v for s, v in states.items() if s in by_slot}

    def wait_until(self, backend: str, target: str, state: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.servers(backend).get(target) == state:
                return
            time.sleep(0.2)
        raise TimeoutError(f"{backend}: {target} not {state} within {timeout:g}s ({self.servers(backend)})")


@contextlib.contextmanager
def running(balancer: LoadBalancer) -> Iterator[LoadBalancer]:
    balancer.start()
    try:
        yield balancer
    finally:
        balancer.stop()
