"""The local AWS: moto in server mode behind a small front of our own, both on 127.0.0.1 only.

boto3 talks to the front exactly as to AWS (only `endpoint_url` differs). The front
- answers CodeDeploy (`X-Amz-Target: CodeDeploy_20141006.*`) itself, with a deployment lifecycle moto lacks
  (see the codedeploy package), acting on moto's EC2 / Auto Scaling / ELBv2 state;
- forwards every other request (S3, ECR, EC2, Auto Scaling, ELBv2, ...) to moto unchanged;
- records every API call it receives, so tests can assert that bad input made no cloud call.

Control endpoints (never recorded):
    GET    /_dojangkok/health          ready check
    GET    /_dojangkok/calls           {"calls": [{"service", "operation", "method", "path", "time"}, ...]}
    DELETE /_dojangkok/calls           forget the recorded calls
    PUT    /_dojangkok/green           {"application", "deploymentGroup", "health": "healthy"|"unhealthy"|"hang"}
    PUT    /_dojangkok/timing          {"stepSeconds": 0.05, "minuteSeconds": 0.1}
    PUT    /_dojangkok/throttle        {"operation": "GetDeployment", "count": 2}: the next calls answer "throttled"
    PUT    /_dojangkok/fail            {"operation": "CreateDeployment", "code": "AccessDeniedException", "count": 1,
                                        "after": 0}: once `after` calls went through, `count` calls answer that
                                       error as the service's protocol words it
    POST   /_dojangkok/reset           empty moto, CodeDeploy, behaviours and the call log

Run it:  python -m dojangkok_local.aws --port 4566
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import http.client
import json
import logging
import re
import signal
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from moto.server import ThreadedMotoServer
from werkzeug.wrappers import Request, Response

from dojangkok_local.aws.codedeploy import CodeDeploy, CodeDeployResponses, Timing, operation_of
from dojangkok_local.emulator_common import HOST, CallLog, ControlClient, LocalServer, json_response

CONTROL = "/_dojangkok/"
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request")
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "expect"}


class AwsEmulator:
    """moto plus our CodeDeploy front. `start()` / `stop()`, or use `aws_emulator()`."""

    def __init__(self, port: int = 0, *, step_seconds: float = 0.05, minute_seconds: float = 0.1) -> None:
        self._port = port
        self.timing = Timing(step_seconds=step_seconds, minute_seconds=minute_seconds)
        self._calls = CallLog()
        self._faults_lock = threading.Lock()
        self._conditional_writes = threading.Lock()
        self._faults: dict[str, list[str]] = {}  # operation -> the error codes its next calls answer, in order
        self._moto: ThreadedMotoServer | None = None
        self._server: LocalServer | None = None
        self.codedeploy: CodeDeploy | None = None
        self._codedeploy_api: CodeDeployResponses | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> AwsEmulator:
        self._moto = ThreadedMotoServer(ip_address=HOST, port=0, verbose=False)
        self._moto.start()
        host, port = self._moto.get_host_and_port()
        self.moto_endpoint = f"http://{host}:{port}"
        self.codedeploy = CodeDeploy(self.moto_endpoint, self.timing)
        self._codedeploy_api = CodeDeployResponses(self.codedeploy)
        self._server = LocalServer(self._wsgi, self._port, name="aws-emulator").start()
        self.endpoint = self._server.endpoint
        return self

    def stop(self) -> None:
        if self.codedeploy:
            self.codedeploy.reset()  # ends the deployment threads
        if self._server:
            self._server.stop()
        if self._moto:
            self._moto.stop()

    # -- control (in process; the same as the HTTP control endpoints) -------------------------------------------

    def calls(self) -> list[dict[str, Any]]:
        return self._calls.entries()

    def reset_calls(self) -> None:
        self._calls.clear()
        with self._faults_lock:
            self._faults.clear()

    def reset(self) -> None:
        assert self.codedeploy is not None
        self.codedeploy.reset()
        reset = urllib.request.Request(f"{self.moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310 - our moto
        urllib.request.urlopen(reset, timeout=30).read()  # noqa: S310
        self.reset_calls()

    # -- the front ----------------------------------------------------------------------------------------------

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        request = Request(environ)
        if request.path.startswith(CONTROL):
            response = self._control(request)
        else:
            body = request.get_data(cache=True, parse_form_data=False)
            call = self._record(request, body)
            target = request.headers.get("X-Amz-Target", "")
            codedeploy = operation_of(target)
            if fault := self._fault(call["operation"]):
                response = _error(call["service"], bool(target), fault)
            elif codedeploy is not None:
                response = self._codedeploy(request, codedeploy, body)
            elif call["service"] == "s3" and any(header in request.headers for header in CONDITIONS):
                with self._conditional_writes:  # S3 decides a conditional request atomically; moto checks, then acts
                    response = self._forward(request, body)
            else:
                response = self._forward(request, body)
        return response(environ, start_response)

    def _codedeploy(self, request: Request, operation: str, body: bytes) -> Response:
        assert self._codedeploy_api is not None
        scope = CREDENTIAL_SCOPE.search(request.headers.get("Authorization", ""))
        region = scope["region"] if scope else "us-east-1"
        status, headers, answer = self._codedeploy_api.dispatch(operation, body, region)
        return Response(answer, status=status, headers=headers)

    def _forward(self, request: Request, body: bytes) -> Response:
        target = urlsplit(self.moto_endpoint)
        connection = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
        headers["Host"] = target.netloc
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(request.method, _raw_path(request), body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            out = [(k, v) for k, v in answer.getheaders() if k.lower() not in HOP_BY_HOP]
            return Response(data, status=answer.status, headers=out)
        finally:
            connection.close()

    def _control(self, request: Request) -> Response:
        assert self.codedeploy is not None
        name = request.path.removeprefix(CONTROL).strip("/")
        try:
            payload = request.get_json(silent=True) or {}
            if name == "health" and request.method == "GET":
                return json_response({"status": "ok", "endpoint": self.endpoint})
            if name == "calls" and request.method == "GET":
                return json_response({"calls": self.calls()})
            if name == "calls" and request.method == "DELETE":
                self.reset_calls()
                return json_response({"calls": []})
            if name == "green" and request.method == "PUT":
                self.codedeploy.set_green_health(payload["application"], payload["deploymentGroup"], payload["health"])
                return json_response({"ok": True})
            if name == "timing" and request.method == "PUT":
                self.timing.step_seconds = float(payload.get("stepSeconds", self.timing.step_seconds))
                self.timing.minute_seconds = float(payload.get("minuteSeconds", self.timing.minute_seconds))
                timing = {"stepSeconds": self.timing.step_seconds, "minuteSeconds": self.timing.minute_seconds}
                return json_response(timing)
            if name == "throttle" and request.method == "PUT":
                self.fail(payload["operation"], THROTTLING, int(payload.get("count", 1)))
                return json_response({"ok": True})
            if name == "fail" and request.method == "PUT":
                self.fail(payload["operation"], payload["code"], int(payload.get("count", 1)),
                          int(payload.get("after", 0)))
                return json_response({"ok": True})
            if name == "reset" and request.method == "POST":
                self.reset()
                return json_response({"ok": True})
        except KeyError as error:
            return json_response({"error": f"bad control request: {error} is required"}, 400)
        except ValueError as error:
            return json_response({"error": f"bad control request: {error}"}, 400)
        return json_response({"error": f"no control endpoint {request.method} {request.path}"}, 404)

    def fail(self, operation: str, code: str, count: int = 1, after: int = 0) -> None:
        """Once `after` more calls of `operation` went through, answer `count` with the error `code` (THROTTLING:
        the service's own)."""
        with self._faults_lock:
            self._faults.setdefault(operation, []).extend([""] * after + [code] * count)

    def _fault(self, operation: str) -> str:
        with self._faults_lock:
            queued = self._faults.get(operation)
            return queued.pop(0) if queued else ""

    def _record(self, request: Request, body: bytes) -> dict[str, Any]:
        scope = CREDENTIAL_SCOPE.search(request.headers.get("Authorization", ""))
        service = scope["service"] if scope else "unknown"
        target = request.headers.get("X-Amz-Target", "")
        if target:
            operation = target.rsplit(".", 1)[-1]
        elif service == "s3":
            operation = _s3_operation(request)
        else:
            form = parse_qs(body.decode("utf-8", "replace")) if body else {}
            operation = (form.get("Action") or request.args.getlist("Action") or [f"{request.method} {request.path}"])[
                0
            ]
        entry = {
            "service": service,
            "operation": operation,
            "method": request.method,
            "path": request.path,
            "time": time.time(),
        }
        return self._calls.record(entry)


class EmulatorControl(ControlClient):
    """The control endpoints over HTTP, for tests and scripts (works against an emulator in another process);
    `calls()` and `reset_calls()` come with ControlClient."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint, CONTROL)

    def set_green_health(self, application: str, deployment_group: str, health: str) -> None:
        payload = {"application": application, "deploymentGroup": deployment_group, "health": health}
        self.request("PUT", "green", payload)

    def throttle(self, operation: str, count: int = 1) -> None:
        """Answer the next `count` calls of `operation` with the service's throttling error."""
        self.request("PUT", "throttle", {"operation": operation, "count": count})

    def fail(self, operation: str, code: str, count: int = 1, after: int = 0) -> None:
        """Once `after` more calls of `operation` went through, answer `count` with the error `code` (e.g.
        AccessDeniedException, ExpiredTokenException: errors botocore does not retry, as a revoked role answers)."""
        self.request("PUT", "fail", {"operation": operation, "code": code, "count": count, "after": after})

    def set_timing(self, *, step_seconds: float, minute_seconds: float) -> None:
        self.request("PUT", "timing", {"stepSeconds": step_seconds, "minuteSeconds": minute_seconds})

    def reset(self) -> None:
        self.request("POST", "reset")


@contextlib.contextmanager
def aws_emulator(port: int = 0, *, step_seconds: float = 0.05, minute_seconds: float = 0.1) -> Iterator[AwsEmulator]:
    """A running emulator for the duration of the block; prints its endpoint."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto logs every request otherwise
    emulator = AwsEmulator(port, step_seconds=step_seconds, minute_seconds=minute_seconds).start()
    print(f"AWS emulator on {emulator.endpoint} (moto behind it on {emulator.moto_endpoint})", file=sys.stderr)
    try:
        yield emulator
    finally:
        emulator.stop()


CONDITIONS = frozenset({"If-Match", "If-None-Match"})  # S3's conditional write and delete headers
THROTTLING = "Throttling"  # the fault code for each protocol's "slow down", which botocore retries


def _error(service: str, json_protocol: bool, code: str) -> Response:
    """The error `code` as each protocol words it (THROTTLING: the code that protocol uses for "slow down")."""
    throttled = code == THROTTLING
    if json_protocol:
        body = json.dumps({"__type": "ThrottlingException" if throttled else code,
                           "message": "Rate exceeded" if throttled else f"injected {code}"})
        return Response(body, status=400, content_type="application/x-amz-json-1.1")
    if service == "s3":
        code, status = ("SlowDown", 503) if throttled else (code, 403 if code == "AccessDenied" else 400)
        body = f"<Error><Code>{code}</Code><Message>injected {code}</Message></Error>"
        return Response(body, status=status, content_type="application/xml")
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected {code}</Message></Error>"
        f"<RequestId>{_request_id()}</RequestId></ErrorResponse>"
    )
    return Response(body, status=400, content_type="text/xml")


def _request_id() -> str:
    return str(uuid.uuid4())


def _raw_path(request: Request) -> str:
    """The path exactly as the client sent it (S3 keys keep their percent-encoding)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return raw or (request.full_path if request.query_string else request.path)


def _s3_operation(request: Request) -> str:
    parts = [p for p in request.path.split("/") if p]
    on_object = len(parts) > 1
    names = {
        ("PUT", False): "CreateBucket",
        ("PUT", True): "PutObject",
        ("GET", False): "ListObjects",
        ("GET", True): "GetObject",
        ("HEAD", False): "HeadBucket",
        ("HEAD", True): "HeadObject",
        ("DELETE", False): "DeleteBucket",
        ("DELETE", True): "DeleteObject",
        ("POST", False): "DeleteObjects",
        ("POST", True): "PostObject",
    }
    if not parts:
        return "ListBuckets"
    return names.get((request.method, on_object), f"{request.method} {request.path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dojangkok_local.aws",
        description="Local AWS for Dojangkok: moto (S3, ECR, EC2, Auto Scaling, ELBv2) plus a stateful CodeDeploy.",
    )
    parser.add_argument("--port", type=int, default=4566, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--step-seconds", type=float, default=0.5, help="duration of each deployment lifecycle step")
    parser.add_argument("--minute-seconds", type=float, default=1.0, help="real seconds per CodeDeploy wait minute")
    parser.add_argument(
        "--provision",
        metavar="ENV",
        action="append",
        default=[],
        help="create ENV's infrastructure (dev, prd) with the names in deploy/environments.toml; repeatable",
    )
    parser.add_argument("--region", default="ap-northeast-2", help="region for --provision")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with aws_emulator(args.port, step_seconds=args.step_seconds, minute_seconds=args.minute_seconds) as emulator:
        for env in args.provision:
            from dojangkok_local.aws.infra import provision  # boto3 resources only when asked for

            infra = provision(emulator.endpoint, region=args.region, env=env)
            print(json.dumps({"provisioned": env, **dataclasses.asdict(infra)}), flush=True)
        print(f"export AWS_ENDPOINT_URL={emulator.endpoint}", flush=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
