"""A small stateful fake of the GCP REST APIs the pipeline deploys with, for the real google-cloud clients.

Speaks Compute Engine v1 (instance templates, zonal instance group managers, zone/global operations) and
Cloud Deploy v1 (delivery pipelines, targets, releases, rollouts, operations) on 127.0.0.1 only. Point a client at
it with `client_options={"api_endpoint": "http://127.0.0.1:PORT"}`, `transport="rest"` and AnonymousCredentials
(`dojangkok.deploy.rolling.gcp_clients(project, endpoint=...)` does exactly that).

Every API call is recorded; the control endpoints under /_fake/ (not recorded) let tests read and reset that log,
mark a template or an image digest unhealthy, inject transient errors and advance time:

    GET    /_fake/calls                 the recorded calls [{method, path, api}]
    DELETE /_fake/calls                 forget them
    POST   /_fake/unhealthy             {"template": NAME} or {"image": "sha256:…"}: its instances never turn healthy
    DELETE /_fake/unhealthy             everything healthy again
    POST   /_fake/tick                  {"n": 3}: advance every group's rollout
    POST   /_fake/settle                tick until every group is stable (or stuck)
    POST   /_fake/fail                  {"api": "compute.instanceGroupManagers.patch", "status": 503, "times": 1,
                                         "after": 0}: `times` calls answer `status` once `after` calls went through

Groups advance one tick per read of the group (`--ticks-per-read`), and optionally on a clock (`--tick-seconds`).

    python -m dojangkok_local.gcp --port 8085 [--seed dev] [--seed prd]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from flask import Flask, Response, request

from dojangkok_local.api_models import check_gcp_body
from dojangkok_local.emulator_common import CallLog, ControlClient, LocalServer, json_response
from dojangkok_local.gcp.compute import ApiError, Compute
from dojangkok_local.gcp.deploy import CloudDeploy, DeployApiError

P = r"(?P<project>[^/]+)"
Z = r"(?P<zone>[^/]+)"
N = r"(?P<name>[^/:]+)"
C = r"/compute/v1/projects/" + P
# google.rpc.Code names of the HTTP statuses Google's APIs answer with (what the clients map back to exceptions)
GOOGLE_STATUS = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND", 409: "ABORTED",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}
LOC = r"/v1/(?P<location>projects/[^/]+/locations/[^/]+)"
PIPE = r"/v1/(?P<pipeline>projects/[^/]+/locations/[^/]+/deliveryPipelines/[^/:]+)"
REL = r"/v1/(?P<release>projects/[^/]+/locations/[^/]+/deliveryPipelines/[^/]+/releases/[^/:]+)"
CONTROL = "/_fake/"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: re.Pattern
    api: str
    handler: Callable[..., dict]


class FakeGcp:
    """The state behind the server: Compute and Cloud Deploy models, the call log, the failure switches."""

    def __init__(self, *, phase_ticks: int = 1, ticks_per_read: int = 1, operation_polls: int = 1,
                 rollout_reads: int = 2, check_model: bool = True):
        self.lock = threading.RLock()
        # The wire layer against the client library's types: a malformed request is refused as Google refuses it
        # (400 INVALID_ARGUMENT), and a response of the fake's own that leaves the model is a fake bug (500).
        self.check_model = check_model
        self.ticks_per_read = ticks_per_read
        self.compute = Compute(phase_ticks=phase_ticks, operation_polls=operation_polls)
        self.deploy = CloudDeploy(operation_polls=operation_polls, rollout_reads=rollout_reads,
                                  is_unhealthy=lambda d: d in self.compute.unhealthy_images)
        self.calls = CallLog()
        self.failures: dict[str, list[int]] = {}  # api -> statuses to answer with, next first
        self.routes = self._routes()

    def _routes(self) -> list[Route]:
        c, d = self.compute, self.deploy

        def read_group(project, zone, name, **_):
            c.tick(self.ticks_per_read)  # time passes while the caller polls
            return c.get_group(project, zone, name)

        table = [
            ("POST", C + r"/global/instanceTemplates", "compute.instanceTemplates.insert",
             lambda project, body, **_: c.insert_template(project, body)),
            ("GET", C + r"/global/instanceTemplates", "compute.instanceTemplates.list",
             lambda project, **_: c.list_templates(project)),
            ("GET", C + r"/global/instanceTemplates/" + N, "compute.instanceTemplates.get",
             lambda project, name, **_: c.get_template(project, name)),
            ("DELETE", C + r"/global/instanceTemplates/" + N, "compute.instanceTemplates.delete",
             lambda project, name, **_: c.delete_template(project, name)),
            ("GET", C + r"/global/operations/" + N, "compute.globalOperations.get",
             lambda project, name, **_: c.get_operation(project, "global", name)),
            ("POST", C + r"/global/operations/" + N + "/wait", "compute.globalOperations.wait",
             lambda project, name, **_: c.get_operation(project, "global", name)),
            ("GET", C + r"/zones/" + Z + r"/operations/" + N, "compute.zoneOperations.get",
             lambda project, zone, name, **_: c.get_operation(project, zone, name)),
            ("POST", C + r"/zones/" + Z + r"/operations/" + N + "/wait", "compute.zoneOperations.wait",
             lambda project, zone, name, **_: c.get_operation(project, zone, name)),
            ("POST", C + r"/zones/" + Z + r"/instanceGroupManagers", "compute.instanceGroupManagers.insert",
             lambda project, zone, body, **_: c.insert_group(project, zone, body)),
            ("GET", C + r"/zones/" + Z + r"/instanceGroupManagers", "compute.instanceGroupManagers.list",
             lambda project, zone, **_: c.list_groups(project, zone)),
            ("GET", C + r"/zones/" + Z + r"/instanceGroupManagers/" + N, "compute.instanceGroupManagers.get",
             read_group),
            ("PATCH", C + r"/zones/" + Z + r"/instanceGroupManagers/" + N, "compute.instanceGroupManagers.patch",
             lambda project, zone, name, body, **_: c.patch_group(project, zone, name, body)),
            ("POST", C + r"/zones/" + Z + r"/instanceGroupManagers/" + N + "/listManagedInstances",
             "compute.instanceGroupManagers.listManagedInstances",
             lambda project, zone, name, **_: c.managed_instances(project, zone, name)),
            # Cloud Deploy
            ("GET", LOC + r"/operations/(?P<op>[^/:]+)", "clouddeploy.operations.get",
             lambda location, op, **_: d.get_operation(f"{location}/operations/{op}")),
            ("POST", LOC + r"/deliveryPipelines", "clouddeploy.deliveryPipelines.create",
             lambda location, body, args, **_: d.create_pipeline(location, args.get("deliveryPipelineId", ""), body)),
            ("GET", LOC + r"/deliveryPipelines", "clouddeploy.deliveryPipelines.list",
             lambda location, **_: d.list_pipelines(location)),
            ("POST", PIPE + r":rollbackTarget", "clouddeploy.deliveryPipelines.rollbackTarget",
             lambda pipeline, body, **_: d.rollback_target(pipeline, body)),
            ("GET", PIPE, "clouddeploy.deliveryPipelines.get", lambda pipeline, **_: d.get_pipeline(pipeline)),
            ("POST", LOC + r"/targets", "clouddeploy.targets.create",
             lambda location, body, args, **_: d.create_target(location, args.get("targetId", ""), body)),
            ("GET", LOC + r"/targets/" + N, "clouddeploy.targets.get",
             lambda location, name, **_: d.get_target(f"{location}/targets/{name}")),
            ("POST", PIPE + r"/releases", "clouddeploy.releases.create",
             lambda pipeline, body, args, **_: d.create_release(pipeline, args.get("releaseId", ""), body)),
            ("GET", PIPE + r"/releases", "clouddeploy.releases.list",
             lambda pipeline, **_: d.list_releases(pipeline)),
            ("POST", REL + r"/rollouts", "clouddeploy.rollouts.create",
             lambda release, body, args, **_: d.create_rollout_op(release, args.get("rolloutId", ""), body)),
            ("GET", REL + r"/rollouts", "clouddeploy.rollouts.list",
             lambda release, **_: d.list_rollouts(release)),
            ("POST", REL + r"/rollouts/" + N + ":cancel", "clouddeploy.rollouts.cancel",
             lambda release, name, **_: d.cancel_rollout(f"{release}/rollouts/{name}")),
            ("GET", REL + r"/rollouts/" + N, "clouddeploy.rollouts.get",
             lambda release, name, **_: d.get_rollout(f"{release}/rollouts/{name}")),
            ("GET", REL, "clouddeploy.releases.get", lambda release, **_: d.get_release(release)),
        ]
        return [Route(m, re.compile(p + "$"), api, h) for m, p, api, h in table]

    # ---- dispatch ---------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, args: dict, body: dict) -> tuple[int, dict]:
        with self.lock:
            for route in self.routes:
                if route.method != method:
                    continue
                match = route.pattern.match(path)
                if not match:
                    continue
                self.calls.record({"method": method, "path": path, "api": route.api})
                queued = self.failures.get(route.api)
                if queued and (status := queued.pop(0)):
                    return status, {"error": {"code": status, "message": f"injected error ({status})",
                                              "status": GOOGLE_STATUS.get(status, "UNAVAILABLE")}}
                if self.check_model and (problems := check_gcp_body(route.api, body, "request")):
                    return 400, {"error": {"code": 400, "message": "Invalid JSON payload received. "
                                           + "; ".join(problems), "status": "INVALID_ARGUMENT"}}
                try:
                    answer = route.handler(**match.groupdict(), body=body, args=args)
                except (ApiError, DeployApiError) as error:
                    return error.code, error.body()
                if self.check_model and (problems := check_gcp_body(route.api, answer, "response")):
                    return 500, {"error": {"code": 500, "message": "the fake's response leaves the API model: "
                                           + "; ".join(problems), "status": "INTERNAL"}}
                return 200, answer
            self.calls.record({"method": method, "path": path, "api": "unknown"})
            return 404, {"error": {"code": 404, "message": f"the fake does not serve {method} {path}",
                                   "status": "NOT_FOUND"}}

    def control(self, method: str, what: str, body: dict) -> tuple[int, dict]:
        with self.lock:
            if what == "calls" and method == "GET":
                return 200, {"calls": self.calls.entries()}
            if what == "calls" and method == "DELETE":
                self.calls.clear()
                return 200, {}
            if what == "unhealthy" and method == "POST":
                if body.get("template"):
                    self.compute.unhealthy_templates.add(body["template"])
                if body.get("image"):
                    digest = re.search(r"sha256:[0-9a-f]{64}", body["image"])
                    if not digest:
                        return 400, {"error": "image must carry a sha256 digest"}
                    self.compute.unhealthy_images.add(digest.group(0))
                return 200, {}
            if what == "unhealthy" and method == "DELETE":
                self.compute.unhealthy_templates.clear()
                self.compute.unhealthy_images.clear()
                return 200, {}
            if what == "tick" and method == "POST":
                self.compute.tick(int(body.get("n", 1)))
                return 200, {}
            if what == "settle" and method == "POST":
                self.compute.settle()
                return 200, {}
            if what == "fail" and method == "POST":
                self.failures.setdefault(body["api"], []).extend(
                    [0] * int(body.get("after", 0)) + [int(body.get("status", 503))] * int(body.get("times", 1)))
                return 200, {}
            if what == "state" and method == "GET":
                groups = {f"{g.zone}/{n}": [vars(i) for i in g.instances]
                          for (_, _, n), g in self.compute.groups.items()}
                return 200, {"templates": [n for (_, n) in self.compute.templates], "groups": groups}
            return 404, {"error": f"no control endpoint {method} {CONTROL}{what}"}


def create_app(fake: FakeGcp) -> Flask:
    app = Flask("dojangkok-fake-gcp")

    @app.route(CONTROL + "<what>", methods=["GET", "POST", "DELETE"])
    def control(what: str) -> Response:
        status, payload = fake.control(request.method, what, request.get_json(silent=True) or {})
        return json_response(payload, status)

    @app.route("/<path:path>", methods=["GET", "POST", "PATCH", "PUT", "DELETE"])
    def api(path: str) -> Response:
        body = request.get_json(silent=True, force=True) or {}
        status, payload = fake.handle(request.method, "/" + path, request.args.to_dict(), body)
        return json_response(payload, status)

    return app


class FakeGcpServer(ControlClient):
    """A running fake: its endpoint, and the control calls as methods (over HTTP, like any other client: the fake
    may be in another process). `calls()` and `reset_calls()` come with ControlClient."""

    def __init__(self, fake: FakeGcp, port: int = 0, tick_seconds: float = 0):
        self.fake = fake
        self._server = LocalServer(create_app(fake), port, name="fake-gcp")
        self.port = self._server.port
        super().__init__(self._server.endpoint, CONTROL)
        self._stop = threading.Event()
        self._ticking = None
        if tick_seconds > 0:
            self._ticking = threading.Thread(target=self._ticker, args=(tick_seconds,), daemon=True)

    def _ticker(self, every: float) -> None:
        while not self._stop.wait(every):
            with self.fake.lock:
                self.fake.compute.tick()

    def start(self) -> FakeGcpServer:
        self._server.start()
        if self._ticking:
            self._ticking.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.stop()

    def mark_unhealthy(self, *, template: str = "", image: str = "") -> None:
        self.request("POST", "unhealthy", {"template": template, "image": image})

    def heal(self) -> None:
        self.request("DELETE", "unhealthy")

    def tick(self, n: int = 1) -> None:
        self.request("POST", "tick", {"n": n})

    def settle(self) -> None:
        self.request("POST", "settle")

    def fail(self, api: str, *, status: int = 503, times: int = 1, after: int = 0) -> None:
        """Answer `times` calls of `api` with HTTP `status`, once `after` more calls went through."""
        self.request("POST", "fail", {"api": api, "status": status, "times": times, "after": after})


@contextlib.contextmanager
def running(port: int = 0, *, tick_seconds: float = 0, **options) -> Iterator[FakeGcpServer]:
    """Start the fake on 127.0.0.1 (a free port unless one is given) for the duration of the block."""
    server = FakeGcpServer(FakeGcp(**options), port=port, tick_seconds=tick_seconds).start()
    try:
        yield server
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m dojangkok_local.gcp", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8085, help="port on 127.0.0.1 (default 8085)")
    parser.add_argument("--phase-ticks", type=int, default=1, help="ticks an instance spends creating, verifying")
    parser.add_argument("--ticks-per-read", type=int, default=1, help="ticks each read of a group advances")
    parser.add_argument("--tick-seconds", type=float, default=0, help="also tick on a clock (0: off)")
    parser.add_argument("--operation-polls", type=int, default=1, help="reads before an operation is done")
    parser.add_argument("--seed", action="append", default=[], choices=["dev", "prd"],
                        help="create the groups (and pipeline) deploy/environments.toml names for ENV")
    args = parser.parse_args(argv)
    with running(args.port, tick_seconds=args.tick_seconds, phase_ticks=args.phase_ticks,
                 ticks_per_read=args.ticks_per_read, operation_polls=args.operation_polls) as server:
        from dojangkok_local.gcp.seed import seed_environment  # imports the pipeline's own package: only when asked

        for env in args.seed:
            seeded = seed_environment(server.endpoint, env)
            server.settle()
            server.reset_calls()
            print(f"seeded {env}: " + ", ".join(f"{s} on {t}" for s, t in seeded.items()), flush=True)
        print(f"fake GCP (Compute v1, Cloud Deploy v1) on {server.endpoint}; Ctrl-C stops it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(3600)


if __name__ == "__main__":
    main()
