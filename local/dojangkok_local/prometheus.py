"""The monitoring stack of the seed (§3.9), locally: Debian's Prometheus on a free loopback port.

It scrapes what `watch()` names, each target with the labels production's service discovery would give it
(`service`, `instance`), through a file_sd file it re-reads on change; every second, so a gate window of a few
seconds has data. The analysis gate reaches it as a host service (`with-prometheus --endpoint tcp://…`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from dojangkok import catalogue

from dojangkok_local.registry import free_port

SCRAPE_SECONDS = 1


class Prometheus:
    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="dojangkok-prometheus-"))
        self.process: subprocess.Popen | None = None
        self.targets: dict[str, list[str]] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Prometheus:
        (self.dir / "targets.json").write_text("[]")
        (self.dir / "prometheus.yml").write_text(json.dumps({
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "scrape_timeout": f"{SCRAPE_SECONDS}s"},
            "scrape_configs": [{"job_name": "dojangkok", "file_sd_configs": [
                {"files": [str(self.dir / "targets.json")], "refresh_interval": "1s"}]}],
        }))
        self.process = subprocess.Popen(
            [shutil.which("prometheus") or "/usr/bin/prometheus", f"--config.file={self.dir / 'prometheus.yml'}",
             f"--storage.tsdb.path={self.dir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=(self.dir / "prometheus.log").open("w"),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"prometheus exited: {(self.dir / 'prometheus.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"prometheus on {self.url} did not get ready")

    def __exit__(self, *_: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def watch(self, service: str, addresses: list[str]) -> None:
        """Scrape `service` at these host:port addresses (replacing what it had), on its catalogue metrics path,
        labelled as production's SD does."""
        self.targets[service] = list(addresses)
        groups = [{"targets": found,
                   "labels": {"service": name, "__metrics_path__": catalogue.service(name).metrics_path}}
                  for name, found in self.targets.items() if found]
        scratch = self.dir / "targets.json.new"
        scratch.write_text(json.dumps(groups))
        scratch.replace(self.dir / "targets.json")  # atomic: Prometheus never reads half a file

    def wait_scraped(self, service: str, timeout: float = 30) -> None:
        """Until every target of `service` has been scraped successfully."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            active = httpx.get(f"{self.url}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
            mine = [t for t in active if t["labels"].get("service") == service]
            if mine and len(mine) == len(self.targets.get(service, [])) and all(t["health"] == "up" for t in mine):
                return
            time.sleep(0.5)
        raise RuntimeError(f"prometheus did not scrape {service} at {self.targets.get(service)}")
