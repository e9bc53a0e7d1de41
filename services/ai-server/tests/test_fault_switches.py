"""The release-drill fault switches: users see the fault, the health check does not."""

from __future__ import annotations

import time

import pytest
import respx
from aiserver.settings import Settings, SettingsError
from conftest import CHROMA, VLLM
from fastapi.testclient import TestClient
from main import create_app


def app_with(**faults: float) -> TestClient:
    return TestClient(create_app(Settings(vllm_url=VLLM, chroma_url=CHROMA, **faults)))


def test_off_by_default() -> None:
    settings = Settings.from_env({})
    assert (settings.fault_latency, settings.fault_error_ratio) == (0.0, 0.0)


def test_latency_slows_user_routes_but_not_health(upstreams: respx.MockRouter) -> None:
    with app_with(fault_latency=0.3) as client:
        started = time.monotonic()
        assert client.get("/openapi.json").status_code == 200
        slowed = time.monotonic() - started
        started = time.monotonic()
        assert client.get("/health").status_code == 200
        health = time.monotonic() - started
    assert slowed >= 0.3 > health


def test_error_ratio_one_fails_every_user_request_and_health_stays_ok(upstreams: respx.MockRouter) -> None:
    with app_with(fault_error_ratio=1.0) as client:
        failed = client.get("/openapi.json")
        assert failed.status_code == 500
        assert "FAULT_ERROR_RATIO" in failed.json()["detail"]
        assert client.get("/health").status_code == 200


@pytest.mark.parametrize(("var", "value"), [("FAULT_LATENCY_SECONDS", "-1"), ("FAULT_LATENCY_SECONDS", "61"),
                                            ("FAULT_ERROR_RATIO", "1.5"), ("FAULT_ERROR_RATIO", "half")])
def test_a_bad_switch_names_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=var):
        Settings.from_env({var: value})


def duration_samples(client: TestClient) -> dict[tuple[str, str], float]:
    """(route, status) -> requests counted, from /metrics as Prometheus scrapes it."""
    from prometheus_client.parser import text_string_to_metric_families

    counts = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "http_server_request_duration_seconds_count":
                counts[sample.labels["route"], sample.labels["status"]] = sample.value
    return counts


def test_metrics_count_what_users_got_injected_faults_included(upstreams: respx.MockRouter) -> None:
    with app_with(fault_error_ratio=1.0) as client:
        for _ in range(3):
            client.get("/openapi.json")
        client.get("/health")
        counts = duration_samples(client)
    assert counts == {("/openapi.json", "500"): 3.0}  # health checks and scrapes are not users' requests


def test_metrics_see_the_injected_latency(upstreams: respx.MockRouter) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    with app_with(fault_latency=0.3) as client:
        client.get("/openapi.json")
        text = client.get("/metrics").text
    buckets = {s.labels["le"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "http_server_request_duration_seconds_bucket"}
    # the one request is counted above 0.25 s, never below it; how far above depends on the machine's load
    assert buckets["0.25"] == 0.0 and buckets["+Inf"] == 1.0
