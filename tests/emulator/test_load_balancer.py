"""The load balancer stand-in (haproxy) and the load generator, against real HTTP servers on loopback addresses:
health checks admit targets, a route switch is atomic, and draining is what keeps slow requests alive."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from dojangkok_local.lb import SERVER_HEADER, HealthCheck, LoadBalancer, running
from dojangkok_local.load import Load, summarize
from dojangkok_local.registry import free_port

pytestmark = pytest.mark.emulator

PORT = free_port()
BLUE, GREEN = "127.0.0.2", "127.0.0.3"


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:
        pass


@contextlib.contextmanager
def target(address: str) -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer((address, PORT), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def balancer() -> Iterator[tuple[LoadBalancer, str]]:
    lb = LoadBalancer()
    check = HealthCheck("/health", interval_seconds=0.2, healthy_threshold=2, unhealthy_threshold=2)
    lb.add_backend("blue", PORT, check)
    lb.add_backend("green", PORT, check)
    port = lb.add_frontend("web", "blue")
    with target(BLUE), target(GREEN), running(lb):
        lb.register("blue", "b1", BLUE)
        lb.register("green", "g1", GREEN)
        lb.wait_until("blue", "b1", "UP", 10)
        lb.wait_until("green", "g1", "UP", 10)
        yield lb, f"http://127.0.0.1:{port}"


def test_a_switch_sends_every_later_request_to_green_and_none_fails(balancer) -> None:
    lb, url = balancer
    with Load(url + "/", rate=50) as load:
        time.sleep(1)
        lb.route("web", "green")
        switched = lb.switches[-1][0]
        time.sleep(1)
    summary = summarize(load.samples, {BLUE: "blue", GREEN: "green"}.get)
    assert summary.failed == 0 and summary.served_by.keys() == {"blue", "green"}
    assert all(s.server == GREEN for s in load.samples if s.sent > switched)


def test_a_target_whose_health_check_fails_never_takes_requests(balancer) -> None:
    lb, url = balancer
    lb.register("blue", "b2", "127.0.0.4")  # nothing listens there
    for _ in range(10):  # from the moment it is registered, through several checks
        assert lb.servers("blue")["b2"] == "DOWN"
        time.sleep(0.1)
    answers = {httpx.get(url + "/").headers[SERVER_HEADER].rpartition(" ")[2] for _ in range(20)}
    assert answers == {BLUE}


@pytest.mark.parametrize(("delay", "lost"), [(3.0, False), (0.0, True)])
def test_draining_lets_requests_in_flight_finish_and_no_draining_cuts_them(balancer, delay, lost) -> None:
    lb, url = balancer
    with Load(url + "/slow", rate=10) as load:
        time.sleep(1)  # slow requests in flight on blue
        lb.route("web", "green")
        lb.deregister("blue", "b1", delay)
        time.sleep(3)
    assert (summarize(load.samples, str).failed > 0) is lost


def test_load_refuses_anything_but_this_machine() -> None:
    with pytest.raises(ValueError, match="this machine only"):
        Load("http://example.com/")


def test_with_an_internal_address_every_listener_answers_there_too() -> None:
    """What the instances reach (the fleet's gateway: frontend's pages asking backend's listener), and only when
    asked for: without it the listeners stay on 127.0.0.1."""
    internal = "127.0.0.4"
    answered = {}
    for given in ("", internal):
        lb = LoadBalancer(internal_address=given)
        lb.add_backend("blue", PORT, HealthCheck("/health", interval_seconds=0.2, healthy_threshold=1,
                                                 unhealthy_threshold=2))
        port = lb.add_frontend("web", "blue")
        with target(BLUE), running(lb):
            lb.register("blue", "b1", BLUE)
            lb.wait_until("blue", "b1", "UP", 10)
            try:
                answered[given] = httpx.get(f"http://{internal}:{port}/").headers[SERVER_HEADER]
            except httpx.ConnectError:
                answered[given] = None
    assert answered[""] is None
    assert answered[internal].endswith(BLUE)
