"""Zero downtime, measured: `dagger call deploy` / `rollback` through the real CLI while users send requests.

A `Stack` is the local stack with traffic: the AWS emulator and the GCP fake, whose instances really run the
releases (dojangkok_local.fleet, podman) behind a real load balancer (dojangkok_local.lb, haproxy), both following
the emulators' state. Frontend's instances are configured with backend's listener, so a page's request reaches
backend through its own load balancer, as production's frontend reaches it through the internal ALB.
A scenario sends a steady load through the load balancer before, during and after one CLI call, then says what
users saw: requests, failures, latency, and which release answered each request; `problems` lists every broken
promise (a failed request, blue answering after the switch, a broken release answering, a request nobody answered).

Releases are real builds of this checkout told apart by their commit (`--commit` labels the image, so each is its
own digest); a variant source changes one line of a Dockerfile: a release that cannot start, or one whose requests
are slow (the ai-server's FAULT_LATENCY_SECONDS), so connections are in flight whenever an instance leaves.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from dojangkok import catalogue

from dojangkok_local import ROOT, emulator_polls, settings
from dojangkok_local.aws.infra import provision
from dojangkok_local.aws.server import aws_emulator
from dojangkok_local.aws.traffic import AwsTraffic
from dojangkok_local.engine.cli import Emulated, dagger, host_service
from dojangkok_local.engine.cli import overrides as cli_overrides
from dojangkok_local.fleet import GATEWAY, Fleet, Instance
from dojangkok_local.gcp.seed import seed_environment
from dojangkok_local.gcp.server import running as gcp_fake
from dojangkok_local.gcp.traffic import GcpTraffic
from dojangkok_local.lb import LoadBalancer
from dojangkok_local.load import Load, Sample, Summary, summarize
from dojangkok_local.prometheus import Prometheus

ENV = "dev"
RATE = 10  # requests per second, the whole time
QUIET_SECONDS = 3.0  # of load before and after the CLI call
DEREGISTRATION_DELAY = 10  # seconds a leaving target drains (the target group attribute; ALB default 300)
CHECK_SECONDS, RISE, FALL = 5, 2, 2  # the target groups' health check: the API's shortest interval (default 30 s, 5, 2)
# What users ask each service for (not its health check).
PATHS = {"frontend": "/", "backend": "/api/contracts", "ai-server": "/openapi.json", "vllm": "/v1/models"}
# Test-sized settings through the same overrides a user has: poll often (the emulators answer in seconds); a release
# that cannot start fails its health check in 2 min, not the 5 min of dev, which still covers a release that pulls
# and starts while both cores are busy.
OVERRIDES = {**emulator_polls(ENV), "DOJANGKOK_DEV_TIMEOUTS_HEALTH_CHECK_SECONDS": "120"}

SLOW = "ENV FAULT_LATENCY_SECONDS=1"  # ai-server: every user request takes a second, /health stays quick
# vLLM without a GPU: the release's own image (base, config, user, port) with its entrypoint replaced by a server
# that answers every GET on :8001, /health included, in place of the model server that needs the L4.
VLLM_STAND_IN = (
    'ENTRYPOINT ["python3", "-c", "import http.server as s\\nclass H(s.BaseHTTPRequestHandler):\\n'
    ' def do_GET(self):\\n  self.send_response(200); self.end_headers(); self.wfile.write(b\'{}\')\\n'
    's.ThreadingHTTPServer((\'\', 8001), H).serve_forever()"]'
)
CANNOT_START = {  # the last CMD wins: a release whose process exits at once
    "frontend": 'CMD ["node", "-e", "console.error(\'missing setting\'); process.exit(3)"]',
    "ai-server": 'CMD ["python3", "-c", "raise SystemExit(\'missing setting\')"]',
}


@dataclass(frozen=True)
class Release:
    """One build to deploy: a name for reports, its commit (label, hence digest) and Dockerfile lines added."""

    name: str
    dockerfile_lines: tuple[str, ...] = ()  # added to the deployed service's Dockerfile
    only: str = ""  # the one service whose Dockerfile gets the lines, when a release deploys several

    def lines_for(self, service: str) -> tuple[str, ...]:
        return self.dockerfile_lines if self.only in ("", service) else ()

    @property
    def commit(self) -> str:
        return hashlib.sha1(self.name.encode()).hexdigest()  # noqa: S324 - a made-up commit SHA, not security


@dataclass
class Outcome:
    scenario: str
    service: str
    succeeded: bool  # the CLI call's exit status
    summary: Summary
    deploy_seconds: float
    switch_seconds: float | None  # from the call's start to the listener switch (Blue/Green)
    problems: list[str] = field(default_factory=list)
    output: str = ""
    # What the charts draw (scripts/bench-zero-downtime --charts): every request, and the call's marks, in seconds
    # from the call's start: ("call ended" | "switch" | a pool step, e.g. "i-3 in", "i-1 draining").
    samples: list[Sample] = field(default_factory=list)
    others: dict[str, Summary] = field(default_factory=dict)  # what the users of `measure(also=…)` saw
    started: float = 0.0  # time.monotonic() when the call started
    marks: list[tuple[float, str]] = field(default_factory=list)


class Stack:
    """The local stack with real instances behind haproxy; `deploy`/`rollback` run the real CLI against it."""

    def __init__(self, registry: str, *, draining_seconds: float = DEREGISTRATION_DELAY,
                 instances: int | None = None, sizes: Mapping[str, int] | None = None) -> None:
        self.registry = registry
        self.draining_seconds = draining_seconds
        self.instances = instances  # per Blue/Green fleet (default: dojangkok_local.aws.infra's)
        self.sizes = sizes  # instances per GCP group (default: dojangkok_local.gcp.seed's)
        self.analysis_seconds = 0  # > 0 (see `gate`): Prometheus scrapes the instances, deploys pass the gate
        self.prometheus: Prometheus | None = None
        self.names: dict[str, str] = {}  # digest -> release name
        self.current: dict[str, str] = {}  # service -> release name it runs
        self.previous: dict[str, str] = {}
        self._exit = contextlib.ExitStack()
        self._sources = Path(tempfile.mkdtemp(prefix="dojangkok-releases-"))

    def __enter__(self) -> Stack:
        try:
            return self._start()
        except BaseException:
            self.__exit__()
            raise

    def _start(self) -> Stack:
        enter = self._exit.enter_context
        self.aws = enter(aws_emulator(step_seconds=0.05, minute_seconds=0.05))
        self.gcp = enter(gcp_fake(tick_seconds=0.5))
        self.aws.reset()
        infra = provision(self.aws.endpoint, env=ENV, **({"instances": self.instances} if self.instances else {}))
        elbv2 = boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator").client(  # noqa: S106
            "elbv2", region_name=infra.region, endpoint_url=self.aws.moto_endpoint)
        for svc in infra.services.values():
            for group in (svc.blue_target_group, svc.green_target_group):
                elbv2.modify_target_group(TargetGroupArn=group, HealthCheckIntervalSeconds=CHECK_SECONDS,
                                          HealthyThresholdCount=RISE, UnhealthyThresholdCount=FALL)
                elbv2.modify_target_group_attributes(TargetGroupArn=group, Attributes=[
                    {"Key": "deregistration_delay.timeout_seconds", "Value": str(self.draining_seconds)}])
        seed_environment(self.gcp.endpoint, ENV, self.sizes)
        self.gcp.settle()
        self.listeners = {name: svc.listener for name, svc in infra.services.items()}

        self.fleet = Fleet(registry_port=int(self.registry.rsplit(":", 1)[1])).start()
        self._exit.callback(self.fleet.stop)
        self.lb = LoadBalancer(internal_address=GATEWAY)
        self.aws_traffic = AwsTraffic(self.aws.moto_endpoint, infra.region, self.fleet, self.lb)
        self.aws_traffic.configure()
        self.fleet.config["frontend.env"] = f"BACKEND_URL={self.aws_traffic.internal(self.listeners['backend'])}\n"
        self.gcp_traffic = GcpTraffic(self.fleet, self.lb, draining_seconds=self.draining_seconds)
        self.gcp_traffic.configure({g.instance_group: s for s, g in settings(ENV).gcp.groups.items()})
        self.lb.start()
        self._exit.callback(self.lb.stop)
        self.aws.codedeploy.traffic = self.aws_traffic
        self.gcp.fake.compute.traffic = self.gcp_traffic
        self._exit.callback(self._detach)
        return self

    def __exit__(self, *_: object) -> None:
        self._exit.close()
        shutil.rmtree(self._sources, ignore_errors=True)

    def gate(self, window_seconds: int) -> None:
        """From now on every deploy passes the analysis gate, judged over `window_seconds`: Prometheus scrapes the
        instances of the gated services, as production's would."""
        if self.prometheus is None:
            self.prometheus = self._exit.enter_context(Prometheus())
            watching = threading.Event()
            self._exit.callback(watching.set)
            threading.Thread(target=self._scrape_instances, args=(watching,), daemon=True).start()
        self.analysis_seconds = window_seconds

    def _scrape_instances(self, stop: threading.Event) -> None:
        """Keep Prometheus on the instances that run each gated service, as EC2 / GCE service discovery would."""
        gated = settings(ENV).analysis.gated
        while not stop.wait(1):
            for service in gated:
                port = catalogue.service(service).port
                self.prometheus.watch(service, [f"{i.address}:{port}" for i in self.running(service)])

    def _detach(self) -> None:
        self.aws.codedeploy.traffic = None
        self.gcp.fake.compute.traffic = None

    # ---- what users reach ------------------------------------------------------------------------------------
    def url(self, service: str) -> str:
        if service in self.listeners:
            return self.aws_traffic.frontend(self.listeners[service]) + PATHS[service]
        group = settings(ENV).gcp.groups[service].instance_group
        return self.gcp_traffic.frontend(group) + PATHS[service]

    def running(self, service: str) -> list[Instance]:
        """The instances that run `service` now (the image the cloud told each to run names it)."""
        return [i for i in list(self.fleet.instances.values()) if f"/{service}@" in i.release]

    def release_of(self, address: str) -> str:
        """The release an instance ran, by name: the digest it was told to pull, as the deploys published it."""
        instance = self.fleet.ever.get(address)
        digest = instance.release.rpartition("@")[2] if instance else ""
        return self.names.get(digest, digest[:19] or f"unknown instance {address}")

    # ---- the CLI ---------------------------------------------------------------------------------------------
    def call(self, *function: str, source: Path | None = None) -> subprocess.CompletedProcess:
        overrides = cli_overrides(OVERRIDES)
        local = Emulated(self.registry, self.aws.endpoint, self.gcp.endpoint).arguments()
        if self.analysis_seconds:
            overrides += ["--override", f"DOJANGKOK_{ENV.upper()}_ANALYSIS_WINDOW_SECONDS={self.analysis_seconds}"]
            local += ["with-prometheus", "--endpoint", host_service(self.prometheus.url)]
        where = ["--source", str(source)] if source else []
        return dagger("call", *where, *overrides, *local, *function, "--format", "json", check=False)

    def source(self, release: Release, services: str) -> Path | None:
        """This checkout with the release's lines added to the Dockerfiles of `services` (comma-separated) that
        get them (None: the checkout as is)."""
        names = services.split(",")
        if not any(release.lines_for(name) for name in names):
            return None
        copy = self._sources / f"{release.name}-{'-'.join(names)}"
        if not copy.exists():
            ignore = shutil.ignore_patterns("node_modules", ".next", "__pycache__", "target", ".venv")
            for part in (*(f"services/{name}" for name in names), "dockerfiles", "deploy"):
                shutil.copytree(ROOT / part, copy / part, ignore=ignore)
            for name in names:
                dockerfile = copy / "dockerfiles" / f"{name}.Dockerfile"
                lines = "".join(f"{line}\n" for line in release.lines_for(name))
                dockerfile.write_text(dockerfile.read_text() + lines)
        return copy

    def deploy(self, services: str, release: Release) -> subprocess.CompletedProcess:
        """Deploy `release` of `services` (one, or several comma-separated, as one release)."""
        result = self.call("deploy", "--env", ENV, "--branch", "main", "--commit", release.commit,
                           "--service", services, "--platform", "linux/amd64", source=self.source(release, services))
        for instance in self.fleet.ever.values():  # what this call launched ran this release, even if it failed
            self.names.setdefault(instance.release.rpartition("@")[2], release.name)
        if result.returncode == 0:
            for service in services.split(","):
                self.previous[service], self.current[service] = self.current.get(service, ""), release.name
        return result

    def rollback(self, service: str) -> subprocess.CompletedProcess:
        result = self.call("rollback", "--env", ENV, "--service", service)
        if result.returncode == 0:
            self.current[service], self.previous[service] = self.previous[service], self.current[service]
        return result

    # ---- a scenario ------------------------------------------------------------------------------------------
    def measure(self, scenario: str, service: str, action: Callable[[], subprocess.CompletedProcess],
                *, expect: str, never: str = "", also: tuple[str, ...] = ()) -> Outcome:
        """Load through `action`; `expect` must answer every request once switched (Blue/Green) or in the end,
        the release running before may answer until then, `never` may answer no request at all. The services
        `also` get the same load meanwhile (a gate judges only services that had requests)."""
        before = self.current.get(service, "")
        switches, steps = len(self.lb.switches), len(self.lb.steps)
        with contextlib.ExitStack() as loads:
            load = loads.enter_context(Load(self.url(service), rate=RATE))
            others = {name: loads.enter_context(Load(self.url(name), rate=RATE)) for name in also}
            time.sleep(QUIET_SECONDS)
            started = time.monotonic()
            result = action()
            finished = time.monotonic()
            time.sleep(QUIET_SECONDS)
        samples = load.samples
        switched = [t for t, *_ in self.lb.switches[switches:]]
        outcome = Outcome(scenario, service, result.returncode == 0, summarize(samples, self.release_of),
                          round(finished - started, 1), round(switched[-1] - started, 1) if switched else None,
                          output=result.stdout + result.stderr, samples=samples, started=started,
                          others={name: summarize(other.samples, self.release_of) for name, other in others.items()})
        outcome.marks = sorted([(round(finished - started, 2), "call ended")]
                               + [(round(t - started, 2), "switch") for t in switched]
                               + [(round(t - started, 2), step) for t, step in self.lb.steps[steps:]])
        outcome.problems = self.problems(samples, switched, expect=expect, before=before, never=never)
        return outcome

    def problems(self, samples: list[Sample], switched: list[float], *, expect: str, before: str,
                 never: str) -> list[str]:
        found = []
        failed = [s for s in samples if s.failed]
        if failed:
            found.append(f"{len(failed)} of {len(samples)} requests failed, e.g. {failed[0].error or failed[0].status}")
        allowed = {expect, before}
        for s in samples:
            release = self.release_of(s.server) if s.server else ""
            if s.failed:
                continue
            if never and release == never:
                found.append(f"the release that failed its checks ({never}) answered a request")
                break
            if switched and s.sent > switched[-1] and release != expect:
                found.append(f"{release} answered after the switch to {expect}")
                break
            if release not in allowed:
                found.append(f"a request was answered by {release or 'no instance'}, neither {before} nor {expect}")
                break
        tail = [s for s in samples if s.sent > samples[-1].sent - 1] if samples else []
        if tail and any(self.release_of(s.server) != expect for s in tail if not s.failed):
            found.append(f"after the call, not every request is answered by {expect}")
        return found
