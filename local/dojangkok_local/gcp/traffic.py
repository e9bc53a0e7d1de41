"""Real traffic for the GCP fake: every instance a managed instance group creates is a fleet instance that boots the
template's own startup script (the production one, rendered by the rolling driver), and the group's backend
service is haproxy.

The fake's rollout model asks this module instead of counting ticks: an instance leaves CREATING when its startup
script has run, leaves VERIFYING when the backend service's health check (the catalogue's port and path) passes,
and a deleted instance is gone only after connection draining: it stops taking new requests at once, in-flight
ones finish, and the instance is stopped when the draining timeout is over.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from dojangkok import catalogue

from dojangkok_local.fleet import Fleet
from dojangkok_local.lb import HealthCheck, LoadBalancer

# The backend service's health check, as Google's defaults have it: every 5 s, 5 s to answer, 2 to rise and to fall.
HEALTH_CHECK = (5.0, 2, 2, 5.0)


@dataclass
class _Boot:
    thread: threading.Thread
    ok: bool | None = None  # None while the startup script runs
    output: str = ""


def backend_name(group: str) -> str:
    return "mig_" + group.replace("-", "_")


class GcpTraffic:
    """The fleet and the backend services of the fake's instance groups."""

    def __init__(self, fleet: Fleet, balancer: LoadBalancer, *, draining_seconds: float = 3.0) -> None:
        self.fleet = fleet
        self.lb = balancer
        self.draining_seconds = draining_seconds  # the backend service's connectionDraining.drainingTimeoutSec
        self._verifying: dict[str, float] = {}  # instance -> when its health was first asked (time.monotonic())
        self.ports: dict[str, int] = {}  # group -> frontend port on 127.0.0.1 (the forwarding rule)
        self.images: dict[str, str] = {}  # instance -> the image its template runs
        self._boots: dict[str, _Boot] = {}
        self._gone: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def configure(self, groups: dict[str, str]) -> None:
        """group name -> service: a backend (health checked as the catalogue says) and a frontend per group."""
        for group, service in groups.items():
            svc = catalogue.service(service)
            self.lb.add_backend(backend_name(group), svc.port, HealthCheck(svc.health_path, *HEALTH_CHECK))
            self.ports[group] = self.lb.add_frontend("fe_" + backend_name(group), backend_name(group))

    def frontend(self, group: str) -> str:
        return f"http://127.0.0.1:{self.ports[group]}"

    # ---- the rollout model's questions ----------------------------------------------------------------------------
    def booted(self, instance: str, template: dict) -> bool | None:
        """Start the instance (once) and run its startup script; True when it ran, False when it failed."""
        with self._lock:
            boot = self._boots.get(instance)
            if boot is None:
                boot = _Boot(threading.Thread(target=self._boot, args=(instance, template), daemon=True))
                self._boots[instance] = boot
                self.images[instance] = _metadata(template, "dojangkok-image")
                boot.thread.start()
        return boot.ok

    def _boot(self, name: str, template: dict) -> None:
        boot = self._boots[name]
        try:
            instance = self.fleet.instances.get(name) or self.fleet.launch(name)
            instance.release = self.images[name]
            script = instance.root / "startup-script.sh"
            script.write_text(_metadata(template, "startup-script"))
            result = instance.run(script, timeout=600)
            boot.output = result.stdout + result.stderr
            boot.ok = result.returncode == 0
        except Exception as error:  # the instance could not even start: the model sees a failed boot
            boot.output, boot.ok = repr(error), False

    def healthy(self, group: str, instance: str) -> bool | None:
        """Registered with the backend service, then its health check's verdict: True up, False down, None not yet."""
        backend = backend_name(group)
        self._verifying.setdefault(instance, time.monotonic())
        if instance not in self.lb.backends[backend].slots:
            running = self.fleet.instances.get(instance)
            if running is None:  # terminated meanwhile (auto-healing, the stack stopping): it answers nothing
                return False
            self.lb.register(backend, instance, running.address)
            return None
        return {"UP": True, "DOWN": False}.get(self.lb.servers(backend).get(instance, ""))

    def verifying_for(self, instance: str) -> float:
        """Seconds since the instance's health was first asked: auto-healing waits initialDelaySec from there."""
        return time.monotonic() - self._verifying.get(instance, time.monotonic())

    def recreate(self, group: str, instance: str) -> None:
        """Auto-healing: the instance is deleted (no draining: it never served) and boots again."""
        backend = backend_name(group)
        if instance in self.lb.backends[backend].slots:
            self.lb.deregister(backend, instance, 0)
        with self._lock:
            self._boots.pop(instance, None)
            self._verifying.pop(instance, None)
        self.fleet.terminate(instance)

    def delete(self, group: str, instance: str) -> None:
        """Drain, then stop (in the background); `gone` says when."""
        with self._lock:
            if instance in self._gone:
                return
            self._gone[instance] = threading.Event()
        backend = backend_name(group)
        if instance in self.lb.backends[backend].slots:
            self.lb.deregister(backend, instance, self.draining_seconds)

        def finish() -> None:
            time.sleep(self.draining_seconds)
            self.fleet.terminate(instance)
            with self._lock:
                self._boots.pop(instance, None)
            self._gone[instance].set()

        threading.Thread(target=finish, daemon=True).start()

    def gone(self, instance: str) -> bool:
        event = self._gone.get(instance)
        if event is not None and event.is_set():
            del self._gone[instance]
            return True
        return False


def _metadata(template: dict, key: str) -> str:
    items = ((template.get("properties") or {}).get("metadata") or {}).get("items") or []
    return next((item.get("value", "") for item in items if item.get("key") == key), "")
