"""Zero downtime as users see it: requests through a real load balancer (haproxy) while `dagger call deploy` rolls
releases onto instances that really run them (podman, one network namespace each), on both emulated clouds.

No timing is asserted: what must hold is that no request fails, that blue answers nothing once the listener has
switched, that during a rolling update every request is answered by the old or the new release, that turning
draining off does lose requests (so the zero is measured), and that a release failing users under real traffic is
judged by the analysis gate and taken back on both clouds. The full set of scenarios (rollbacks, releases that
cannot start) is scripts/bench-zero-downtime; the emulator tier proves a failing green is rolled back.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

import pytest
from dojangkok_local.bench.zero_downtime import RELEASES, UNDRAINED
from dojangkok_local.zero_downtime import Release, Stack

# One fleet network (dojangkok_local.fleet's bridge) on the machine: these scenarios share one pytest-xdist worker.
pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("fleet")]


@contextlib.contextmanager
def on_first_release(registry: str, cloud: str) -> Iterator[Stack]:
    """A stack whose service of `cloud` already runs the first release (deployed without load)."""
    service, first, *_ = RELEASES[cloud]
    with Stack(registry) as stack:
        result = stack.deploy(service, first)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        yield stack


@pytest.fixture(scope="module")
def aws_stack(images_built, registry):
    with on_first_release(registry, "aws") as stack:
        yield stack


@pytest.fixture(scope="module")
def gcp_stack(images_built, registry):
    with on_first_release(registry, "gcp") as stack:
        yield stack


def test_blue_green_switches_without_a_failed_request_and_blue_answers_nothing_after(aws_stack):
    service, _, second, _ = RELEASES["aws"]
    before = aws_stack.current[service]
    outcome = aws_stack.measure("blue/green", service, lambda: aws_stack.deploy(service, second), expect=second.name)
    assert outcome.succeeded, outcome.output[-2000:]
    assert outcome.summary.failed == 0 and outcome.problems == [], outcome.problems
    assert outcome.switch_seconds is not None  # one listener switch, after which only the new release answered
    assert set(outcome.summary.served_by) == {before, second.name}


def test_rolling_update_answers_every_request_by_the_old_or_the_new_release(gcp_stack):
    service, _, second, _ = RELEASES["gcp"]
    before = gcp_stack.current[service]
    outcome = gcp_stack.measure("rolling", service, lambda: gcp_stack.deploy(service, second), expect=second.name)
    assert outcome.succeeded, outcome.output[-2000:]
    assert outcome.summary.failed == 0 and outcome.problems == [], outcome.problems
    assert set(outcome.summary.served_by) == {before, second.name}
    # Every request of this release takes a second: requests were in flight whenever an old instance left.
    assert outcome.summary.p50_ms >= 1000


def test_without_connection_draining_the_same_rollout_loses_requests(gcp_stack):
    service = RELEASES["gcp"][0]
    target = UNDRAINED
    gcp_stack.gcp_traffic.draining_seconds = 0  # the backend service's connectionDraining.drainingTimeoutSec
    outcome = gcp_stack.measure("draining off", service, lambda: gcp_stack.deploy(service, target),
                                expect=target.name)
    assert outcome.succeeded, outcome.output[-2000:]  # the roll-out itself is fine: users are not
    assert outcome.summary.failed > 0
    assert any("requests failed" in problem for problem in outcome.problems)


# ---- the analysis gate: a release that fails users goes back, on both clouds --------------------------------------
GOOD, FAULTY = Release("gate-r1"), Release("gate-r2", ("ENV FAULT_ERROR_RATIO=0.5",), only="ai-server")
BOTH = "frontend,ai-server"


@pytest.fixture(scope="module")
def gated_stack(images_built, registry):
    """Both clouds on one release, Prometheus scraping the ai-server instances, deploys judged for 20 s.

    The first release is deployed under load too: a gate without requests to judge has no verdict, so rolls back."""
    with Stack(registry, analysis_seconds=20) as stack:
        first = stack.measure("first release", "ai-server", lambda: stack.deploy(BOTH, GOOD), expect=GOOD.name)
        assert first.succeeded and "analysis passed over 20 s" in first.output, first.output[-3000:]
        yield stack


def test_a_release_the_analysis_gate_breaches_goes_back_on_both_clouds(gated_stack):
    outcome = gated_stack.measure("gate breach", "ai-server", lambda: gated_stack.deploy(BOTH, FAULTY),
                                  expect=GOOD.name)
    assert not outcome.succeeded
    # The summary names the query's measure, its value and the threshold; ai-server rolled back, frontend reverted.
    breach = r"analysis breached over 20 s: error rate \d+\.\d % > 10 %"
    assert re.search(breach, outcome.output), outcome.output[-3000:]
    assert re.search(r'"service": "ai-server"[^}]*"outcome": "rolled-back"', outcome.output)
    assert re.search(r'"service": "frontend"[^}]*"outcome": "reverted"', outcome.output)
    # Users: the faulty release did serve (that is what the gate saw), and in the end the first one answers again.
    assert set(outcome.summary.served_by) == {GOOD.name, FAULTY.name}
    assert not [p for p in outcome.problems if "after the call" in p], outcome.problems
    ai_servers = [i for i in gated_stack.fleet.instances.values() if "/ai-server@" in i.release]
    assert {gated_stack.release_of(i.address) for i in ai_servers} == {GOOD.name}
