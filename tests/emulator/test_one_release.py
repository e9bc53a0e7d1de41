"""One release across both clouds, and one deploy at a time: the module's release runner and deploy lock over
real boto3 / google-cloud clients against moto (+ our CodeDeploy) and the GCP fake, as `dagger call deploy` runs
them inside its function container."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace

import pytest
from dojangkok import catalogue, release
from dojangkok.deploy import Outcome
from dojangkok.deploy.analysis import AnalysisGate
from dojangkok.deploy.lock import LOCK_KEY, DeployLocked, LockRecord
from dojangkok_local import emulator_polls, settings
from dojangkok_local.aws.infra import ecr_image, provision
from dojangkok_local.aws.server import EmulatorControl, aws_emulator
from dojangkok_local.drivers import emulated
from dojangkok_local.gcp.seed import first_image, seed_environment
from dojangkok_local.gcp.server import running as gcp_fake

pytestmark = pytest.mark.emulator

ENV = "dev"
SETTINGS = settings(ENV, environ=emulator_polls(ENV))
FRONTEND, AI_SERVER = catalogue.service("frontend"), catalogue.service("ai-server")


@pytest.fixture
def drivers() -> Iterator[release.Drivers]:
    """dev as deploy/environments.toml names it, on fresh emulators; the drivers the module would build."""
    with aws_emulator(step_seconds=0.02, minute_seconds=0.02) as aws, gcp_fake(tick_seconds=0.05) as gcp:
        aws.reset()
        provision(aws.endpoint, env=ENV)
        seed_environment(gcp.endpoint, ENV)
        gcp.settle()
        made = emulated(SETTINGS, aws.endpoint, gcp.endpoint)
        made.control = EmulatorControl(aws.endpoint)
        yield made


def ai_server_template(drivers: release.Drivers) -> str:
    group = SETTINGS.gcp.groups["ai-server"].instance_group
    mig = drivers._gcp.groups.get(project=SETTINGS.gcp.project, zone=SETTINGS.gcp.zone, instance_group_manager=group)
    return mig.instance_template.rsplit("/", 1)[-1]


def new_release(n: int) -> list[tuple[catalogue.Service, str]]:
    gcp = SETTINGS.gcp
    return [(FRONTEND, ecr_image("frontend", str(n))),
            (AI_SERVER, first_image(gcp.region, gcp.project, gcp.repository, "ai-server", n))]


def break_frontend_green(drivers: release.Drivers) -> None:
    group = SETTINGS.aws.groups["frontend"].deployment_group
    drivers.control.set_green_health(SETTINGS.aws.codedeploy_application, group, "unhealthy")


async def test_a_service_that_misses_the_release_takes_the_other_cloud_back(drivers):
    before = ai_server_template(drivers)
    break_frontend_green(drivers)
    results = {r.service: r for r in await release.run(new_release(2), drivers, rollback=False)}

    assert results["frontend"].outcome is Outcome.ROLLED_BACK
    ai = results["ai-server"]
    assert ai.outcome is Outcome.REVERTED, ai.detail
    assert "frontend rolled-back" in ai.detail  # the summary says why
    assert ai_server_template(drivers) == before == ai.new  # GCP serves what it served before the release
    assert "compute.instanceGroupManagers.patch" in ai.api_calls  # counts include the revert's calls


async def test_independent_keeps_the_service_that_reached_its_release(drivers):
    before = ai_server_template(drivers)
    break_frontend_green(drivers)
    results = {r.service: r for r in await release.run(new_release(2), drivers, rollback=False, independent=True)}

    assert results["frontend"].outcome is Outcome.ROLLED_BACK
    assert results["ai-server"].outcome is Outcome.SUCCEEDED
    assert ai_server_template(drivers) == results["ai-server"].new != before


async def test_a_release_the_analysis_gate_rejects_goes_back_and_takes_the_other_cloud_back(
        drivers, prometheus, serving):
    first = await release.run(new_release(1), drivers, rollback=False)  # frontend needs a release to go back to
    assert {r.outcome for r in first} == {Outcome.SUCCEEDED}
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6), prometheus.url)
    before = ai_server_template(drivers)
    with serving(FAULT_ERROR_RATIO="0.5"):  # what users of the new ai-server release get
        results = {r.service: r for r in await release.run(new_release(2), drivers, rollback=False)}

    ai = results["ai-server"]
    assert ai.outcome is Outcome.ROLLED_BACK, ai.detail
    breach = r"analysis breached over 6 s: error rate \d+\.\d % > 10 % \(query .+\); rolled back to "
    assert re.search(breach, ai.detail)
    assert ai_server_template(drivers) == before == ai.new
    frontend = results["frontend"]  # reached its release on AWS, then put back: one release across both clouds
    assert frontend.outcome is Outcome.REVERTED and "ai-server rolled-back" in frontend.detail
    assert frontend.new == first[0].new  # back on release 1's revision


async def test_a_release_the_analysis_gate_passes_keeps_its_values_in_the_summary(drivers, prometheus, serving):
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6), prometheus.url)
    with serving():
        results = {r.service: r for r in await release.run(new_release(2), drivers, rollback=False)}
    assert {r.outcome for r in results.values()} == {Outcome.SUCCEEDED}
    assert re.search(r"analysis passed over 6 s: p95 latency \d+ ms <= 500 ms; error rate 0\.0 % <= 10 %",
                     results["ai-server"].detail)
    assert "analysis" not in results["frontend"].detail  # not a gated service (no request metrics)


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
