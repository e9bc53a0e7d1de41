"""history and dora over a month of release records whose answers are worked out by hand below."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from dojangkok import history
from dojangkok.records import Change, Record

pytestmark = pytest.mark.unit

SINCE = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday: four whole weeks to UNTIL
UNTIL = datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC)
BOTH = ("frontend", "ai-server")


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> str:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC).isoformat()


def change(service: str, previous: str, image: str, outcome: str = "succeeded") -> Change:
    return Change(service=service, cloud="aws" if service == "frontend" else "gcp", previous=previous,
                  image=image, outcome=outcome)


def rolled_out(name: str, before: str = "", outcomes: tuple[str, str] = ("succeeded", "succeeded")) -> tuple:
    """frontend (AWS) and ai-server (GCP) moved from release `before` to release `name` in one call."""
    return tuple(change(s, f"{s}@sha256:{before}" if before else "", f"{s}@sha256:{name}", o)
                 for s, o in zip(BOTH, outcomes, strict=True))


def record(action: str, started: str, ended: str, changes: tuple = (), commit_time: str = "", cause: str = "",
           services: tuple[str, ...] = BOTH, commit: str = "") -> Record:
    return Record(environment="prd", action=action, started=started, ended=ended, actor="ci", services=services,
                  commit=commit, commit_time=commit_time, changes=changes, cause=cause)


# A month of prd, each call across both clouds:
BEFORE = record("deploy", at(30, 9, month=10), at(30, 9, 10, month=10), rolled_out("z"), at(30, 8, month=10))
A = record("deploy", at(2, 10), at(2, 10, 20), rolled_out("a", "z"), commit_time=at(2, 8))  # lead 2 h 20 min
B = record("deploy", at(3, 10), at(3, 10, 30), rolled_out("b", "a", ("reverted", "rolled-back")),
           commit_time=at(3, 9), cause="ai-server rolled-back: analysis breached")  # gated: restored in 30 min
C = record("deploy", at(4, 12), at(4, 12, 10), rolled_out("c", "a"), commit_time=at(4, 11))  # lead 70 min
D = record("rollback", at(4, 13), at(4, 13, 15), rolled_out("a", "c"))  # C failed after all: restored 75 min on
E = record("deploy", at(10, 9), at(10, 9, 5), rolled_out("e", "a"), commit_time=at(10, 8))  # lead 65 min
F = record("deploy", at(18, 9), at(18, 9, 1), cause="VerifyRefused: no signature", services=("backend",))
RECORDS = [E, BEFORE, D, A, F, C, B]  # in no order: the store lists by key, the functions sort


def test_dora_counts_releases_failures_and_medians_as_worked_out_by_hand():
    metrics = history.dora(RECORDS, SINCE, UNTIL, "prd")
    assert metrics.deployments == 4  # A, B, C, E: the rollback D restores, F rolled nothing out, BEFORE is older
    assert metrics.failures == 2  # B reverted by the gate, C rolled back later by D
    assert metrics.change_failure_rate == 0.5
    assert metrics.lead_time_seconds == 70 * 60  # median of 140, 70 and 65 minutes (succeeded releases)
    assert metrics.time_to_restore_seconds == (30 + 75) / 2 * 60  # B 30 min in its own call, C 75 min until D ended
    assert metrics.weekly == [("2026-11-02", 3, 2), ("2026-11-09", 1, 0), ("2026-11-16", 0, 0),
                              ("2026-11-23", 0, 0)]
    # two of four weeks deployed (median 0.5 days and 0.5 weeks), every month did: Four Keys says monthly
    assert metrics.frequency == "monthly"
    assert metrics.per_day == round(4 / ((UNTIL - SINCE).total_seconds() / 86400), 3)


def test_a_cross_cloud_release_counts_once():
    one = history.dora([A], SINCE, UNTIL, "prd")
    assert one.deployments == 1 and len(A.changes) == 2 and {c.cloud for c in A.changes} == {"aws", "gcp"}


def releases_on(days: list[datetime]) -> list[Record]:
    return [record("deploy", d.isoformat(), (d + timedelta(minutes=5)).isoformat(), rolled_out(f"{i}"))
            for i, d in enumerate(days)]


@pytest.mark.parametrize(("days", "bucket"), [
    ([SINCE + timedelta(weeks=w, days=d) for w in range(4) for d in (0, 1, 2)], "daily"),  # 3 days every week
    ([SINCE + timedelta(weeks=w, days=d) for w in range(4) for d in (0, 1)], "weekly"),  # 2 days: not daily
    ([SINCE + timedelta(weeks=w) for w in (0, 1, 2)], "weekly"),  # most weeks
    ([SINCE], "monthly"),  # one week of four, the one month
    ([], "none"),
])
def test_deployment_frequency_uses_four_keys_buckets(days, bucket):
    assert history.dora(releases_on(days), SINCE, UNTIL, "prd").frequency == bucket


def test_the_yearly_bucket_when_most_months_have_no_release():
    since = datetime(2026, 9, 1, tzinfo=UTC)
    assert history.dora(releases_on([datetime(2026, 9, 8, tzinfo=UTC)]), since, UNTIL, "prd").frequency == "yearly"


def test_a_failed_release_is_restored_by_the_next_call_that_succeeds():
    broken = record("deploy", at(5, 10), at(5, 10, 40), rolled_out("x", "a", ("failed", "reverted")))
    fixed = record("deploy", at(5, 11), at(5, 11, 30), rolled_out("y", "a"))
    metrics = history.dora([broken, fixed], SINCE, UNTIL, "prd")
    assert metrics.failures == 1 and metrics.time_to_restore_seconds == 90 * 60


def test_history_lists_newest_first_and_filters_by_service():
    rows = json.loads(history.history(RECORDS, None, "json", "prd"))
    assert [r["started"] for r in rows] == sorted((r.started for r in RECORDS), reverse=True)
    assert rows[0]["outcome"] == "stopped" and rows[-1]["outcome"] == "succeeded"
    only_backend = json.loads(history.history(RECORDS, {"backend"}, "json", "prd"))
    assert [r["id"] for r in only_backend] == [F.id]


def test_markdown_draws_releases_and_failures_per_week():
    text = history.report(history.dora(RECORDS, SINCE, UNTIL, "prd"), "markdown")
    assert "| change failure rate | 50% (2 of 4) |" in text
    chart = text[text.index("```mermaid"):]
    assert "xychart-beta" in chart and "bar [3, 1, 0, 0]" in chart and "line [2, 0, 0, 0]" in chart


@pytest.mark.parametrize("value", ["30", "1y", "yesterday", "2026-13-01"])
def test_since_names_the_bad_value_and_the_forms_it_takes(value):
    with pytest.raises(ValueError, match=rf"--since '{value}' is neither a duration \(e.g. 30d"):
        history.parse_since(value)


def test_since_takes_a_duration_or_a_time():
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert history.parse_since("2w", now) == now - timedelta(weeks=2)
    assert history.parse_since("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
