"""Release records and rejections in the environment's bundle bucket, as deploy, promote and rollback write them:
the module's own recording around real rollouts on moto (+ our CodeDeploy) and the GCP fake."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from dojangkok import records, release
from dojangkok.deploy.analysis import AnalysisGate
from dojangkok.deploy.lock import LockRecord
from dojangkok.records import GATE, RELEASES, Record, RecordNotWritten, Rejection, ReleaseRejected
from dojangkok_local import emulator_polls, settings
from dojangkok_local.drivers import fresh_clouds, numbered_release, what_runs

pytestmark = pytest.mark.emulator

ENV = "dev"
SETTINGS = settings(ENV, environ=emulator_polls(ENV))
BOTH = ("frontend", "ai-server")
COMMIT = "ab12cd3" * 5 + "ab12c"  # 40 hex


@pytest.fixture
def drivers() -> Iterator[release.Drivers]:
    with fresh_clouds(SETTINGS) as clouds:
        clouds.drivers.control = clouds.aws
        yield clouds.drivers


def draft(action: str, commit: str = COMMIT) -> Record:
    return Record(environment=ENV, action=action, started=records.now(), ended="", actor="ci (run 9)",
                  services=BOTH, commit=commit, commit_time="2026-12-07T01:00:00+00:00" if commit else "")


def recorded_call(drivers: release.Drivers, act, action: str = "deploy", commit: str = COMMIT,
                  store: records.Records | None = None):
    """What deploy, promote and rollback do around their rollout: the lock, then the record, then `act`."""
    lock = LockRecord(environment=ENV, holder="ci (run 9)", action=action, release="r", services=BOTH)
    with drivers.lock().held(lock), records.recorded(store or drivers.records(), draft(action, commit)) as recording:
        results = asyncio.run(act())
        recording.done(results)
    return {r.service: r for r in results}


def deploy(drivers: release.Drivers, n: int, commit: str = COMMIT):
    return recorded_call(drivers, lambda: release.run(numbered_release(SETTINGS, n), drivers), commit=commit)


def images(n: int) -> dict[str, str]:
    return {svc.name: image for svc, image in numbered_release(SETTINGS, n)}


def test_each_call_leaves_one_record_of_what_each_cloud_served_before_and_after(drivers):
    deploy(drivers, 1)
    deploy(drivers, 2)
    recorded_call(drivers, lambda: release.roll_back([svc for svc, _ in numbered_release(SETTINGS, 1)], drivers),
                  action="rollback", commit="")

    first, second, back = drivers.records().read()
    assert [r.action for r in (first, second, back)] == ["deploy", "deploy", "rollback"]
    assert {r.outcome for r in (first, second, back)} == {"succeeded"}
    assert {c.service: (c.previous, c.image) for c in second.changes} == {
        name: (images(1)[name], images(2)[name]) for name in BOTH}
    assert {c.service: (c.previous, c.image) for c in back.changes} == {
        name: (images(2)[name], images(1)[name]) for name in BOTH}
    assert {c.cloud for c in second.changes} == {"aws", "gcp"}  # one record for the release on both clouds
    assert second.commit == COMMIT and second.actor == "ci (run 9)" and second.started <= second.ended
    listed = drivers._aws.s3.list_objects_v2(Bucket=SETTINGS.aws.bundle_bucket, Prefix=RELEASES)["Contents"]
    assert len(listed) == 3


def test_a_record_is_never_overwritten(drivers):
    store = drivers.records()
    store.write(first := replace(draft("deploy"), ended=records.now()))
    with pytest.raises(RecordNotWritten, match="could not be written"):
        store.write(replace(first, actor="someone rewriting the past"))
    assert store.read() == [first]


def test_reading_since_a_time_lists_only_the_calls_started_from_then_in_order(drivers):
    store = drivers.records()
    times = ["2026-12-01T09:00:00.000+00:00", "2026-12-01T09:00:00.500+00:00", "2026-12-03T18:00:00+09:00"]
    for started in reversed(times):  # written in any order: the keys order them
        store.write(replace(draft("deploy"), started=started, ended=started))
    assert [r.started for r in store.read()] == times
    assert [r.started for r in store.read(since=datetime(2026, 12, 1, 9, 0, 0, 400000, tzinfo=UTC))] == times[1:]


def test_a_release_that_misses_a_service_is_recorded_with_each_outcome_and_the_cause(drivers):
    deploy(drivers, 1)
    drivers.control.set_green_health(SETTINGS.aws.codedeploy_application,
                                     SETTINGS.aws.groups["frontend"].deployment_group, "unhealthy")
    deploy(drivers, 2)

    missed = drivers.records().read()[-1]
    assert missed.outcome == "rolled-back"
    assert {c.service: c.outcome for c in missed.changes} == {"frontend": "rolled-back", "ai-server": "reverted"}
    assert {c.service: c.serving for c in missed.changes} == images(1)  # both clouds back on release 1
    assert missed.cause.startswith("frontend rolled-back: ") and "ai-server reverted: reverted because" in missed.cause
    assert drivers.records().rejections() == []  # a broken rollout is not a rejected release: it may run again


def test_a_gate_breach_rejects_the_release_and_deploy_and_promote_refuse_it(drivers, prometheus, serving):
    deploy(drivers, 1)
    drivers.gate = AnalysisGate(replace(SETTINGS.analysis, window_seconds=6), prometheus.url)
    with serving(FAULT_ERROR_RATIO="0.5"):
        deploy(drivers, 2)

    gated = drivers.records().read()[-1]
    assert gated.outcome == "rolled-back"
    assert re.search(r"ai-server rolled-back: analysis breached over 6 s: error rate \d+\.\d % > 10 % \(query .+\)",
                     gated.cause)
    (rejection,) = drivers.records().rejections()
    assert rejection.by == GATE and rejection.commit == COMMIT and rejection.record == gated.id
    assert set(rejection.digests) == {image.partition("@")[2] for image in images(2).values()}
    with pytest.raises(ReleaseRejected, match=rf"commit {COMMIT[:12]} was rejected in dev at .+ by "
                                              rf"{GATE}: ai-server: analysis breached"):
        records.refuse_rejected([drivers.records()], COMMIT[:7])  # deploy's check, before the lock
    with pytest.raises(ReleaseRejected, match="never rolled out again"):  # the same bytes under another commit
        records.refuse_rejected([drivers.records()], "f" * 40, [images(2)["ai-server"].partition("@")[2]])
    records.refuse_rejected([drivers.records()], "f" * 40, [images(1)["ai-server"].partition("@")[2]])


def test_a_call_that_ends_before_any_rollout_is_recorded_as_stopped(drivers):
    with pytest.raises(RuntimeError, match="push refused"), records.recorded(drivers.records(), draft("deploy")):
        raise RuntimeError("push refused")
    (stopped,) = drivers.records().read()
    assert stopped.outcome == "stopped" and stopped.cause == "push refused" and stopped.changes == ()


def test_a_record_that_cannot_be_written_fails_the_call_once_the_rollout_has_ended(drivers):
    before = what_runs(drivers)
    nowhere = records.Records(drivers._aws.s3, "no-such-bucket", ENV)
    with pytest.raises(RecordNotWritten) as lost:
        recorded_call(drivers, lambda: release.run(numbered_release(SETTINGS, 1), drivers), store=nowhere)
    assert what_runs(drivers) != before  # the rollout ran to its end, the release serves ...
    assert drivers.lock().holder() is None  # ... and the lock was given back
    message = str(lost.value)  # the failure says what runs, and what access is missing
    assert "the deploy ended (succeeded)" in message and images(1)["frontend"] in message
    assert "s3:PutObject" in message


def test_rollback_refuses_a_rejected_release_before_anything_moves(drivers):
    deploy(drivers, 1)
    deploy(drivers, 2)
    store = drivers.records()
    store.reject(Rejection(environment=ENV, commit="", reason="corrupts contracts", by="alice",
                           digests=(images(1)["frontend"].partition("@")[2],)))
    on_2 = what_runs(drivers)

    async def refuse(targets):
        records.refuse_rejected([store], "", [image.partition("@")[2] for _, image in targets])

    with pytest.raises(ReleaseRejected, match=r"rejected in dev at .+ by alice: corrupts contracts"):
        asyncio.run(release.roll_back([svc for svc, _ in numbered_release(SETTINGS, 1)], drivers, refuse))
    assert what_runs(drivers) == on_2


def test_a_person_rejects_a_commit_with_the_digests_its_records_name_and_the_first_rejection_stays(drivers):
    full = "c0ffee1" * 5 + "c0ffe"
    deploy(drivers, 1, commit=full)
    store = drivers.records()
    first = store.reject(records.rejection_of(store.read(), ENV, "C0FFEE1", "leaks data", "bob"))
    assert first.commit == full  # named in full, as the records know it
    assert set(first.digests) == {image.partition("@")[2] for image in images(1).values()}
    again = store.reject(records.rejection_of(store.read(), ENV, full, "other", "carol"))
    assert again == first and store.rejections() == [first]


def test_promote_finds_the_commit_time_in_devs_records(drivers):
    deploy(drivers, 1)
    assert records.commit_time_of(drivers.records(), COMMIT[:7]) == "2026-12-07T01:00:00+00:00"
    assert records.commit_time_of(drivers.records(), "0" * 40) == ""
