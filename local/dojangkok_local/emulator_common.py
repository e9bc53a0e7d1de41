"""Plumbing the two local clouds share (aws/, gcp/): a WSGI app served on 127.0.0.1 in a thread without request
logs, a thread-safe log of the API calls received, JSON control requests over HTTP, and a clock that lets the deploy
drivers wait without waiting (tests and benchmarks), and the benchmarks' rows and report."""

from __future__ import annotations

import contextlib
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any, Self

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Response

HOST = "127.0.0.1"  # never another interface: nothing here may be reachable from outside this machine


class QuietRequestHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # the call log is the record; keep output clean
        pass


class LocalServer:
    """A WSGI app served by threads on 127.0.0.1 (`port` 0: a free one) until `stop()`."""

    def __init__(self, app: Any, port: int = 0, *, name: str) -> None:
        self._server = make_server(HOST, port, app, threaded=True, request_handler=QuietRequestHandler)
        self.port = self._server.server_port
        self.endpoint = f"http://{HOST}:{self.port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
        )

    def start(self) -> LocalServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class LocalApp:
    """A stand-in whose API is a WSGI app served on 127.0.0.1: `start()` / `stop()`, or `with Cls.running() as x`."""

    def __init__(self, app: Any, *, name: str) -> None:
        self._server = LocalServer(app, name=name)
        self.endpoint = self._server.endpoint

    def start(self) -> Self:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    @classmethod
    @contextlib.contextmanager
    def running(cls, *args: Any, **kwargs: Any) -> Iterator[Self]:
        app = cls(*args, **kwargs).start()
        try:
            yield app
        finally:
            app.stop()


class CallLog:
    """The API calls an emulator received, in order; safe to record from the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def record(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self._entries.append(entry)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def json_response(payload: dict, status: int = 200) -> Response:
    return Response(json.dumps(payload), status=status, content_type="application/json")


class ControlClient:
    """JSON requests to an emulator's control endpoints (`prefix`), over HTTP: it may run in another process.

    Both emulators keep their call log at `{prefix}calls`: GET reads it, DELETE forgets it.
    """

    def __init__(self, endpoint: str, prefix: str) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.prefix = prefix

    def request(self, method: str, name: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        url = f"{self.endpoint}{self.prefix}{name}"
        # Our own emulator's endpoint on 127.0.0.1, never a user-given URL (hence the S310 waivers).
        call = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(call, timeout=30) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")

    def calls(self) -> list[dict]:
        return self.request("GET", "calls")["calls"]

    def reset_calls(self) -> None:
        self.request("DELETE", "calls")


class FakeClock:
    """Time that passes only when the driver sleeps, so long timeouts cost nothing; pass it as `clock` and its
    `sleep` as `sleep`. `pause`: real seconds per sleep, for an emulator whose own threads must make progress."""

    def __init__(self, pause: float = 0.0) -> None:
        self.now = 0.0
        self.pause = pause
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.pause:
            time.sleep(self.pause)

    @property
    def waited(self) -> float:
        return sum(self.sleeps)


# ---- benchmarks (bench/deploy_aws.py, bench/deploy_gcp.py; run both with scripts/bench-deploy) ------------------
@dataclass
class Measured:
    """One deploy or rollback a benchmark ran against an emulator."""

    cloud: str
    scenario: str
    service: str
    outcome: str
    wall: float  # real seconds the driver took
    waited: float  # of which real seconds asleep between polls (0 when the driver ran on a FakeClock)
    api_calls: dict[str, int]  # as the driver counted them (DeployResult.api_calls)
    wire_calls: int  # as the emulator's call log recorded them (for concurrent runs: all of them together)
    detail: str = ""

    @property
    def overhead(self) -> float:
        """What the driver itself costs: building requests and bundles, round trips, parsing; not waiting."""
        return max(self.wall - self.waited, 0.0)

    def as_dict(self) -> dict:
        return {**asdict(self), "calls": sum(self.api_calls.values()), "overhead": round(self.overhead, 4)}


def report(runs: list[Measured], *, as_json: bool, note: str = "") -> None:
    """Print the runs: a table and the calls by API, or one JSON object a line (the same for every cloud)."""
    if as_json:
        for run in runs:
            print(json.dumps(run.as_dict()), flush=True)
        return
    print(f"{'cloud':<5} {'service':<10} {'scenario':<34} {'outcome':<12} {'calls':>5} {'wire':>5} "
          f"{'wall s':>7} {'waited s':>8} {'overhead s':>10}")
    for run in runs:
        print(f"{run.cloud:<5} {run.service:<10} {run.scenario:<34} {run.outcome:<12} "
              f"{sum(run.api_calls.values()):>5} {run.wire_calls:>5} {run.wall:>7.3f} {run.waited:>8.3f} "
              f"{run.overhead:>10.3f}")
    print("\nAPI calls by operation" + (f" ({note})" if note else "") + ":")
    for run in runs:
        calls = ", ".join(f"{api} {n}" for api, n in sorted(run.api_calls.items()))
        print(f"  {run.service:<10} {run.scenario:<34} {calls}")
    print(flush=True)
