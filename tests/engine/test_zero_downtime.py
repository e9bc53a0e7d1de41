"""Zero downtime as users see it: requests through a real load balancer (haproxy) while `dagger call deploy` rolls
releases onto instances that really run them (podman, one network namespace each), on both emulated clouds.

No timing is asserted: what must hold is that no request fails, that blue answers nothing once the listener has
switched, that during a rolling update every request is answered by the old or the new release, that turning
draining off does lose requests (so the zero is measured), and that a release failing users under real traffic is
judged by the analysis gate and taken back on both clouds: backend, whose users reach it through frontend's pages.
The full set of scenarios (rollbacks, releases that cannot start) is scripts/bench-zero-downtime; the emulator tier
proves a failing green is rolled back.
"""

from __future__ import annotations

import re

import pytest
from dojangkok_local import settings
from dojangkok_local.bench.zero_downtime import RELEASES, UNDRAINED
from dojangkok_local.drivers import emulated
from dojangkok_local.zero_downtime import SLOW, Release, Stack

# One fleet network (dojangkok_local.fleet's bridge) on the machine: these scenarios share one pytest-xdist worker.
pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("fleet")]

# Each cloud's services on their first release, deployed without load in one call: frontend as RELEASES' aws first
# release builds it, backend (frontend's pages ask it for the contracts), ai-server with its slow requests, as
# RELEASES' gcp releases build it.
FIRST = Release("first", (SLOW,), only="ai-server")


@pytest.fixture(scope="module")
def stack(images_built, registry):
    """One stack for every scenario of this file, in turn: both clouds, their instances, the load balancer.

    Test-sized fleets (scripts/bench-zero-downtime runs the defaults, two and three): frontend's Blue/Green fleet is
    one instance, as the switch moves the whole fleet at once whatever its size; ai-server's group is two, as with a
    surge of one each step of a rolling update is the same whatever the group's size, and two already have one old
    instance leave while the other serves."""
    with Stack(registry, instances=1, sizes={"ai-server": 2}) as stack:
        result = stack.deploy("frontend,backend,ai-server", FIRST)
        assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
        yield stack


def test_blue_green_switches_without_a_failed_request_and_blue_answers_nothing_after(stack):
    service, _, second, _ = RELEASES["aws"]
    before = stack.current[service]
    outcome = stack.measure("blue/green", service, lambda: stack.deploy(service, second), expect=second.name)
    assert outcome.succeeded, outcome.output[-2000:]
    assert outcome.summary.failed == 0 and outcome.problems == [], outcome.problems
    assert outcome.switch_seconds is not None  # one listener switch, after which only the new release answered
    assert set(outcome.summary.served_by) == {before, second.name}


def test_rolling_update_answers_every_request_by_the_old_or_the_new_release(stack):
    service, _, second, _ = RELEASES["gcp"]
    before = stack.current[service]
    outcome = stack.measure("rolling", service, lambda: stack.deploy(service, second), expect=second.name)
    assert outcome.succeeded, outcome.output[-2000:]
    assert outcome.summary.failed == 0 and outcome.problems == [], outcome.problems
    assert set(outcome.summary.served_by) == {before, second.name}
    # Every request of this release takes a second: requests were in flight whenever an old instance left.
    assert outcome.summary.p50_ms >= 1000


def test_without_connection_draining_the_same_rollout_loses_requests(stack):
    service = RELEASES["gcp"][0]
    target = UNDRAINED
    drained, stack.gcp_traffic.draining_seconds = stack.gcp_traffic.draining_seconds, 0  # connectionDraining
    try:
        outcome = stack.measure("draining off", service, lambda: stack.deploy(service, target), expect=target.name)
    finally:
        stack.gcp_traffic.draining_seconds = drained  # the scenarios after this one drain again
    assert outcome.succeeded, outcome.output[-2000:]  # the roll-out itself is fine: users are not
    assert outcome.summary.failed > 0
    assert any("requests failed" in problem for problem in outcome.problems)


# ---- the analysis gate: a release that fails users goes back, on both clouds --------------------------------------
# One release of backend (AWS, Blue/Green) and ai-server (GCP, rolling); the second one's backend fails half its
# requests. Users send requests to ai-server and to frontend's pages, the only way requests reach backend: the gate
# passing backend at all shows they did.
RELEASED = "backend,ai-server"
GOOD, FAULTY = Release("gate-r1"), Release("gate-r2", ("ENV FAULT_ERROR_RATIO=0.5",), only="backend")


@pytest.fixture(scope="module")
def gated_stack(stack):
    """The stack from here on with Prometheus scraping the backend and ai-server instances and deploys judged for
    20 s; both on a release that passed the gate.

    That release is deployed under load: a gate without requests to judge has no verdict, so rolls back."""
    stack.gate(20)
    first = stack.measure("first gated release", "ai-server", lambda: stack.deploy(RELEASED, GOOD),
                          expect=GOOD.name, also=("frontend",))
    assert first.succeeded and "analysis passed over 20 s" in first.output, first.output[-3000:]
    return stack


def releases_running(stack, service: str) -> set[str]:
    """The releases the running instances of `service` were told to run, by name."""
    return {stack.release_of(i.address) for i in stack.running(service)}


def test_a_release_the_analysis_gate_breaches_goes_back_on_both_clouds(gated_stack):
    outcome = gated_stack.measure("gate breach", "ai-server", lambda: gated_stack.deploy(RELEASED, FAULTY),
                                  expect=GOOD.name, also=("frontend",))
    assert not outcome.succeeded
    # The summary names the service, the query's measure, its value and the threshold; backend rolled back,
    # ai-server reverted.
    breach = r"analysis breached over 20 s: error rate \d+\.\d % > 10 %"
    assert re.search(f"backend: {breach}", outcome.output), outcome.output[-3000:]
    assert re.search(r'"service": "backend"[^}]*"outcome": "rolled-back"', outcome.output)
    assert re.search(r'"service": "ai-server"[^}]*"outcome": "reverted"', outcome.output)
    # Users: frontend's pages never failed (backend's errors become a message on the page); ai-server's release
    # did serve before it was reverted, and in the end the first release answers again on both clouds.
    assert outcome.others["frontend"].failed == 0 and outcome.others["frontend"].requests > 0
    assert set(outcome.summary.served_by) == {GOOD.name, FAULTY.name}
    assert not [p for p in outcome.problems if "after the call" in p], outcome.problems
    assert releases_running(gated_stack, "backend") == releases_running(gated_stack, "ai-server") == {GOOD.name}

    # Rejected for good: the record names the breach, and the commit is refused before the lock or any build.
    store = emulated(settings("dev"), gated_stack.aws.endpoint, gated_stack.gcp.endpoint).records()
    gated = store.read()[-1]
    assert (gated.commit, gated.outcome) == (FAULTY.commit, "rolled-back")
    assert re.search(f"backend rolled-back: {breach}", gated.cause), gated.cause
    gated_stack.aws.reset_calls()
    again = gated_stack.deploy(RELEASED, FAULTY)
    assert again.returncode != 0
    assert f"commit {FAULTY.commit[:12]} was rejected in dev" in again.stderr
    assert "by the analysis gate: backend: analysis breached over 20 s" in again.stderr
    assert not {"PutObject", "CreateDeployment"} & {c.get("operation") for c in gated_stack.aws.calls()}
    assert store.read()[-1] == gated  # no lock taken, nothing rolled out, nothing recorded
