"""The analysis gate against a real Prometheus scraping a real ai-server under users' requests: the PromQL of
deploy/environments.toml, the seed's thresholds, and the ai-server's fault switches as bad releases."""

from __future__ import annotations

import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dojangkok.deploy.analysis import AnalysisGate
from dojangkok_local import settings

pytestmark = pytest.mark.emulator

WINDOW = 6  # seconds: six scrapes at the harness' one-second interval


def gate(url: str) -> AnalysisGate:
    return AnalysisGate(replace(settings("dev").analysis, window_seconds=WINDOW), url)


def test_a_healthy_release_passes_with_its_measured_values(prometheus, serving):
    with serving():
        verdict = gate(prometheus.url).judge("ai-server")
    assert verdict.passed, verdict
    p95, errors = verdict.measurements
    assert 0 < p95.value < 500 and errors.value == 0.0
    assert str(verdict).startswith(f"analysis passed over {WINDOW} s: p95 latency")


def test_failing_requests_breach_the_error_rate(prometheus, serving):
    with serving(FAULT_ERROR_RATIO="0.5"):
        verdict = gate(prometheus.url).judge("ai-server")
    assert not verdict.passed
    errors = verdict.measurements[1]
    assert errors.breached and 25 < errors.value < 75  # about half of the requests failed
    assert "error rate" in str(verdict) and "> 10 %" in str(verdict)
    assert 'status=~"5.."' in str(verdict)  # the query that measured it, as deploy/environments.toml gave it


def test_slow_requests_breach_the_p95(prometheus, serving):
    with serving(FAULT_LATENCY_SECONDS="0.7"):
        verdict = gate(prometheus.url).judge("ai-server")
    p95, errors = verdict.measurements
    assert p95.breached and p95.value > 500 and not errors.breached
    assert "p95 latency" in str(verdict) and "> 500 ms" in str(verdict)


def test_no_traffic_is_no_verdict(prometheus):
    verdict = gate(prometheus.url).judge("ai-server")  # nothing scrapes ai-server now
    assert not verdict.passed and "no data" in str(verdict)


def test_a_prometheus_that_does_not_answer_fails_the_gate():
    verdict = AnalysisGate(settings("dev").analysis, "http://127.0.0.1:9", sleep=lambda _: None).judge("ai-server")
    assert not verdict.passed and "did not answer" in str(verdict)


@pytest.mark.parametrize("answer", [
    b"[]",  # JSON, not an object
    b'{"status": "success", "data": {}}',  # no result
    b'{"status": "success", "data": {"resultType": "vector", "result": [{"value": [1]}]}}',  # no sample value
    b"<html>502 Bad Gateway</html>",  # a proxy in front of it
])
def test_a_prometheus_that_answers_garbage_fails_the_gate(answer):
    class Garbage(BaseHTTPRequestHandler):
        def do_GET(self):  # the http.server hook
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_):
            pass

    with ThreadingHTTPServer(("127.0.0.1", 0), Garbage) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        verdict = AnalysisGate(settings("dev").analysis, url, sleep=lambda _: None).judge("ai-server")
        server.shutdown()
    assert not verdict.passed
    assert all(m.value is None and url in m.problem for m in verdict.measurements), verdict


def test_only_the_configured_services_are_judged(prometheus):
    judged = gate(prometheus.url)
    assert judged.applies("ai-server") and not judged.applies("frontend")
    assert not AnalysisGate(settings("dev").analysis, "").applies("ai-server")  # no Prometheus: no gate
