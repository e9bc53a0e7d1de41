"""One release across both clouds, and one deploy at a time: the module's release runner and deploy lock over
real boto3 / google-cloud clients against moto (+ our CodeDeploy) and the GCP fake, as `dagger call deploy` runs
them inside its function container."""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from types import SimpleNamespace

import pytest
from dojangkok import catalogue, release
from dojangkok.deploy import DeployError, DeployResult, Outcome
from dojangkok.deploy.analysis import AnalysisGate
from dojangkok.deploy.blue_green import ACTIVE
from dojangkok.deploy.lock import LOCK_KEY, DeployLock, DeployLocked, LockRecord
from dojangkok_local import emulator_polls, settings
from dojangkok_local.aws.infra import ecr_image
from dojangkok_local.drivers import fresh_clouds, numbered_release, what_runs
from dojangkok_local.gcp.seed import first_image

pytestmark = pytest.mark.emulator

ENV = "dev"
SETTINGS = settings(ENV, environ=emulator_polls(ENV))
FRONTEND, BACKEND, AI_SERVER = (catalogue.service(name) for name in ("frontend", "backend", "ai-server"))


@pytest.fixture
def drivers() -> Iterator[release.Drivers]:
    """dev as deploy/environments.toml names it, on fresh emulators; the drivers the module would build."""
    with fresh_clouds(SETTINGS) as clouds:
        clouds.drivers.control, clouds.drivers.gcp_control = clouds.aws, clouds.gcp
        yield clouds.drivers


def ai_server_template(drivers: release.Drivers) -> str:
    return what_runs(drivers, ("ai-server",))["ai-server"]


def frontend_revision(drivers: release.Drivers) -> str:
    return what_runs(drivers, ("frontend",))["frontend"]


def still_moving(drivers: release.Drivers) -> list[str]:
    """What has not ended: CodeDeploy deployments of frontend still active, the ai-server group still updating."""
    group = SETTINGS.aws.groups["frontend"].deployment_group
    active = drivers._aws.codedeploy.list_deployments(
        applicationName=SETTINGS.aws.codedeploy_application, deploymentGroupName=group,
        includeOnlyStatuses=sorted(ACTIVE))["deployments"]
    mig = drivers._gcp.groups.get(project=SETTINGS.gcp.project, zone=SETTINGS.gcp.zone,
                                  instance_group_manager=SETTINGS.gcp.groups["ai-server"].instance_group)
    return active + ([] if mig.status.is_stable else [f"{mig.name} updating"])


def break_frontend_green(drivers: release.Drivers) -> None:
    group = SETTINGS.aws.groups["frontend"].deployment_group
    drivers.control.set_green_health(SETTINGS.aws.codedeploy_application, group, "unhealthy")


async def test_a_service_that_misses_the_release_takes_the_other_cloud_back(drivers):
    before = ai_server_template(drivers)
    break_frontend_green(drivers)
    results = {r.service: r for r in await release.run(numbered_release(SETTINGS, 2), drivers)}

    assert results["frontend"].outcome is Outcome.ROLLED_BACK
    ai = results["ai-server"]
    assert ai.outcome is Outcome.REVERTED, ai.detail
    assert "frontend rolled-back" in ai.detail  # the summary says why
    assert ai_server_template(drivers) == before == ai.new  # GCP serves what it served before the release
    assert "compute.instanceGroupManagers.patch" in ai.api_calls  # counts include the revert's calls


async def test_independent_keeps_the_service_that_reached_its_release(drivers):
    before = ai_server_template(drivers)
    break_frontend_green(drivers)
    results = {r.service: r for r in await release.run(numbered_release(SETTINGS, 2), drivers, independent=True)}

    assert results["frontend"].outcome is Outcome.ROLLED_BACK
    assert results["ai-server"].outcome is Outcome.SUCCEEDED
    assert ai_server_template(drivers) == results["ai-server"].new != before


async def test_a_release_the_analysis_gate_rejects_goes_back_and_takes_the_other_cloud_back(
        drivers, prometheus, serving):
    first = await release.run(numbered_release(SETTINGS, 1), drivers)  # frontend needs a release to go back to
    assert {r.outcome for r in first} == {Outcome.SUCCEEDED}
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6), prometheus.url)
    before = ai_server_template(drivers)
    with serving(FAULT_ERROR_RATIO="0.5"):  # what users of the new ai-server release get
        results = {r.service: r for r in await release.run(numbered_release(SETTINGS, 2), drivers)}

    ai = results["ai-server"]
    assert ai.outcome is Outcome.ROLLED_BACK, ai.detail
    breach = r"analysis breached over 6 s: error rate \d+\.\d % > 10 % \(query .+\); rolled back to "
    assert re.search(breach, ai.detail)
    assert ai_server_template(drivers) == before == ai.new
    frontend = results["frontend"]  # reached its release on AWS, then put back: one release across both clouds
    assert frontend.outcome is Outcome.REVERTED and "ai-server rolled-back" in frontend.detail
    assert frontend.new == first[0].new  # back on release 1's revision


async def test_a_breach_on_backend_rolls_back_backend_and_takes_the_rest_of_the_release_back(
        drivers, prometheus, serving):
    gcp = SETTINGS.gcp

    def release_of(n: int) -> list:  # the main service on AWS and ai-server on GCP, one release
        return [(BACKEND, ecr_image("backend", str(n))),
                (AI_SERVER, first_image(gcp.region, gcp.project, gcp.repository, "ai-server", n))]

    first = await release.run(release_of(1), drivers)
    assert {r.outcome for r in first} == {Outcome.SUCCEEDED}, [r.detail for r in first]
    before = what_runs(drivers, ("backend", "ai-server"))
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6, services="backend"), prometheus.url)
    with serving("backend", FAULT_ERROR_RATIO="0.5"):  # what users of the new backend release get
        results = {r.service: r for r in await release.run(release_of(2), drivers)}

    backend = results["backend"]
    assert backend.outcome is Outcome.ROLLED_BACK, backend.detail
    # judged by backend's own queries: Micrometer's metrics, as Spring Boot exports them
    assert re.search(r"error rate \d+\.\d % > 10 % \(query .*http_server_requests_seconds_count", backend.breach)
    assert results["ai-server"].outcome is Outcome.REVERTED, results["ai-server"].detail
    assert what_runs(drivers, ("backend", "ai-server")) == before  # both clouds on release 1


async def test_a_release_the_analysis_gate_passes_keeps_its_values_in_the_summary(drivers, prometheus, serving):
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6), prometheus.url)
    with serving():
        results = {r.service: r for r in await release.run(numbered_release(SETTINGS, 2), drivers)}
    assert {r.outcome for r in results.values()} == {Outcome.SUCCEEDED}
    assert re.search(r"analysis passed over 6 s: p95 latency \d+ ms <= 500 ms; error rate 0\.0 % <= 10 %",
                     results["ai-server"].detail)
    assert "analysis" not in results["frontend"].detail  # not a gated service (no request metrics)


# ---- faults: whatever fails, both clouds end on what they ran before, and the lock outlives every rollout -------
@pytest.fixture
def released(drivers):
    """Release 1 on both clouds (what a failed release 2 must return to), and a deploy lock whose release records
    what was still moving when it was given back."""
    first = asyncio.run(release.run(numbered_release(SETTINGS, 1), drivers))
    assert {r.outcome for r in first} == {Outcome.SUCCEEDED}, [r.detail for r in first]
    lock, at_release = drivers.lock(), []
    give_back = lock.release
    lock.release = lambda record: (at_release.append(still_moving(drivers)), give_back(record))
    return SimpleNamespace(drivers=drivers, lock=lock, at_release=at_release,
                           frontend=frontend_revision(drivers), ai_server=ai_server_template(drivers))


def deploy_release_2(released) -> dict[str, DeployResult]:
    with released.lock.held(record("ci (run 7)")):
        results = asyncio.run(release.run(numbered_release(SETTINGS, 2), released.drivers))
    return {r.service: r for r in results}


def assert_back_on_release_1(released, results: dict[str, DeployResult]) -> None:
    assert frontend_revision(released.drivers) == released.frontend, results["frontend"].detail
    assert ai_server_template(released.drivers) == released.ai_server, results["ai-server"].detail
    assert released.at_release == [[]]  # the lock was given back once, after everything had ended
    assert released.lock.holder() is None
    assert not any(r.outcome is Outcome.SUCCEEDED for r in results.values())
    assert all(r.new == before for r, before in ((results["frontend"], released.frontend),
                                                 (results["ai-server"], released.ai_server)))


@pytest.mark.parametrize(("operation", "after"), [
    ("GetDeploymentGroup", 1),  # the deploy's own read, after the release recorded what runs
    ("PutObject", 1),  # the revision upload (the lock took the first)
    ("CreateDeployment", 0),
    ("GetDeployment", 2),  # the first poll: CodeDeploy goes on without us
])
def test_a_codedeploy_error_at_any_step_puts_both_clouds_back(released, operation, after):
    code = "AccessDenied" if operation == "PutObject" else "AccessDeniedException"
    released.drivers.control.fail(operation, code, after=after)
    results = deploy_release_2(released)

    frontend, ai = results["frontend"], results["ai-server"]
    assert frontend.outcome is Outcome.ROLLED_BACK and code in frontend.detail, frontend.detail
    assert ai.outcome is Outcome.REVERTED and "because frontend failed" in ai.detail, ai.detail
    assert_back_on_release_1(released, results)


@pytest.mark.parametrize(("api", "after"), [
    ("compute.instanceGroupManagers.patch", 0),  # the switch refused: the driver raises
    ("compute.instanceGroupManagers.get", 2),  # the first read after the switch: it loses track mid-update
])
def test_a_gcp_error_mid_rolling_update_puts_both_clouds_back(released, api, after):
    released.drivers.gcp_control.fail(api, status=403, after=after)
    results = deploy_release_2(released)

    assert results["ai-server"].outcome is Outcome.ROLLED_BACK, results["ai-server"].detail
    assert "403" in results["ai-server"].detail or "denied" in results["ai-server"].detail.lower()
    assert results["frontend"].outcome is Outcome.REVERTED, results["frontend"].detail
    assert_back_on_release_1(released, results)


def test_credentials_that_expire_mid_deploy_still_leave_both_clouds_on_one_release(released):
    # the role's session runs out while CodeDeploy deploys; the pipeline's next session puts things back
    released.drivers.control.fail("GetDeployment", "ExpiredTokenException", count=2, after=2)
    results = deploy_release_2(released)

    assert results["frontend"].outcome is Outcome.ROLLED_BACK, results["frontend"].detail
    assert "ExpiredTokenException" in results["frontend"].detail
    assert_back_on_release_1(released, results)


def test_a_service_already_on_the_release_is_not_moved_by_a_revert(released):
    gcp = SETTINGS.gcp
    same_ai_server = first_image(gcp.region, gcp.project, gcp.repository, "ai-server", 1)  # what it runs already
    break_frontend_green(released.drivers)
    with released.lock.held(record("ci (run 8)")):
        results = {r.service: r for r in asyncio.run(release.run(
            [(FRONTEND, ecr_image("frontend", "2")), (AI_SERVER, same_ai_server)], released.drivers))}

    assert results["frontend"].outcome is Outcome.ROLLED_BACK
    ai = results["ai-server"]
    assert ai.outcome is Outcome.SUCCEEDED and ai.new == released.ai_server, ai.detail  # left where it was
    assert ai_server_template(released.drivers) == released.ai_server
    assert "compute.instanceGroupManagers.patch" not in ai.api_calls


def test_an_older_release_deployed_again_then_reverted_returns_to_what_ran_before(released):
    asyncio.run(release.run(numbered_release(SETTINGS, 2), released.drivers))  # now release 2 runs
    on_2 = frontend_revision(released.drivers), ai_server_template(released.drivers)
    released.drivers.gcp_control.fail("compute.instanceGroupManagers.patch", status=403)
    # release 1 again: it fails, and what ran before the call is release 2
    results = {r.service: r for r in asyncio.run(release.run(numbered_release(SETTINGS, 1), released.drivers))}

    assert results["frontend"].outcome is Outcome.REVERTED, results["frontend"].detail
    assert (frontend_revision(released.drivers), ai_server_template(released.drivers)) == on_2  # not release 1


# ---- the deploy lock --------------------------------------------------------------------------------------------
def record(holder: str) -> LockRecord:
    return LockRecord(environment=ENV, holder=holder, action="deploy", release="dev-main-202612020400",
                      services=("frontend", "ai-server"))


def test_a_second_deploy_is_refused_with_who_holds_the_lock(drivers):
    lock = drivers.lock()
    mine = record("alice (run 41)")
    with lock.held(mine):
        with pytest.raises(DeployLocked) as refused:
            lock.acquire(record("bob"))
        message = str(refused.value)
        assert "dev is locked" in message and "alice (run 41)" in message and "dev-main-202612020400" in message
        assert "--break-lock" in message
        assert lock.holder() == mine  # the refused run changed nothing
    assert lock.holder() is None  # released when the holder ended


def test_the_lock_is_released_when_the_deploy_fails(drivers):
    lock = drivers.lock()
    with pytest.raises(RuntimeError, match="push refused"), lock.held(record("alice")):
        raise RuntimeError("push refused")
    assert lock.holder() is None
    lock.acquire(record("bob"))  # the next deploy goes ahead
    assert lock.holder().holder == "bob"


def test_a_stale_lock_stays_until_broken_explicitly(drivers):
    lock = drivers.lock()
    lock.acquire(record("a run that was killed"))  # never released
    with pytest.raises(DeployLocked, match="a run that was killed"):
        lock.acquire(record("carol"))

    carol = record("carol")
    with lock.held(carol, break_lock=True):
        assert lock.holder() == carol
        assert "a run that was killed" in lock.broken  # what the run's summary names
    assert lock.holder() is None


def test_a_holder_whose_lock_was_broken_leaves_the_new_holders_lock(drivers):
    lock = drivers.lock()
    slow, rescuer = record("slow run"), record("rescuer")
    lock.acquire(slow)
    lock.acquire(rescuer, break_lock=True)
    lock.release(slow)  # the slow run ends after all: it must not free the rescuer's lock
    assert lock.holder() == rescuer


def test_the_record_is_an_object_in_the_environments_bundle_bucket(drivers):
    lock = drivers.lock()
    lock.acquire(record("alice"))
    body = drivers._aws.s3.get_object(Bucket=SETTINGS.aws.bundle_bucket, Key=LOCK_KEY)["Body"].read()
    assert LockRecord.from_json(body.decode()).holder == "alice"
    assert lock.where == f"s3://{SETTINGS.aws.bundle_bucket}/{LOCK_KEY}"


def test_of_many_concurrent_takers_exactly_one_holds_the_lock(drivers):
    lock, start = drivers.lock(), threading.Barrier(6)
    takers = [record(f"run {n}") for n in range(6)]

    def take(mine: LockRecord) -> bool:
        start.wait()
        try:
            lock.acquire(mine)
            return True
        except DeployLocked:
            return False

    with ThreadPoolExecutor(len(takers)) as pool:
        took = list(pool.map(take, takers))
    assert took.count(True) == 1
    assert lock.holder() == takers[took.index(True)]


def test_of_two_breakers_racing_one_wins_and_the_other_is_told_who(drivers):
    stale = record("a run that was killed")
    drivers.lock().acquire(stale)
    both_read = threading.Barrier(2)

    class ReadTogether:
        """The bucket as two breakers racing see it: both read the stale record before either replaces it."""

        def __init__(self, s3):
            self.s3 = s3

        def get_object(self, **kwargs):
            answer = self.s3.get_object(**kwargs)
            answer["Body"] = io.BytesIO(answer["Body"].read())
            if json.loads(answer["Body"].getvalue())["run"] == stale.run:
                both_read.wait(10)
            return answer

        def __getattr__(self, name):
            return getattr(self.s3, name)

    def break_it(holder: str) -> str:
        try:
            DeployLock(ReadTogether(drivers._aws.s3), SETTINGS.aws.bundle_bucket, ENV).acquire(
                record(holder), break_lock=True)
            return "won"
        except DeployLocked as refused:
            return str(refused)

    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(zip(("dave", "erin"), pool.map(break_it, ("dave", "erin")), strict=True))
    winner = next(name for name, outcome in outcomes.items() if outcome == "won")
    loser = next(outcome for outcome in outcomes.values() if outcome != "won")
    assert drivers.lock().holder().holder == winner
    assert "taken while breaking it" in loser and winner in loser


def test_a_malformed_lock_record_is_refused_then_broken(drivers):
    s3, bucket = drivers._aws.s3, SETTINGS.aws.bundle_bucket
    s3.put_object(Bucket=bucket, Key=LOCK_KEY, Body=b"{half a record")
    lock = drivers.lock()
    with pytest.raises(DeployError, match=r"not a lock record.*--break-lock"):
        lock.acquire(record("frank"))
    frank = record("frank")
    with lock.held(frank, break_lock=True):
        assert lock.holder() == frank
    assert lock.holder() is None
