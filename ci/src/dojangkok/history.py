"""What the release records say: the history of an environment and the four DORA metrics.

Pure functions over `records.Record`s (no cloud, no dagger), so `history` and `dora` are worked out the same way
in a test and in the function. One record is one call across both clouds, so a cross-cloud release counts once.

The metrics, for the releases (deploys and promotes that rolled something out) started in the window:
- deployment frequency: releases per day, and the Four Keys bucket: daily when the median week has releases on
  three days or more, weekly when most weeks have one, monthly when most months have one, else yearly;
- lead time for changes: the median from a release's commit time to the end of the release that made it serve;
- change failure rate: releases that did not succeed everywhere (rolled back by the gate or a failed rollout,
  reverted, failed) or that a later rollback moved off, divided by all releases;
- time to restore: the median, over failed releases, from the start of the failed release to the end of the call
  that put the release before it back: itself when it rolled back or reverted, else the next call in that
  environment that succeeded everywhere.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

from .deploy import Outcome
from .records import RELEASE_ACTIONS, Record
from .report import OutputFormat, Section, render

DURATION = re.compile(r"^(\d+)([hdw])$")
UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(value: str, now: datetime | None = None) -> datetime:
    """`30d`, `12h`, `2w` before `now`, or an ISO 8601 time; ValueError naming the value otherwise."""
    now = now or datetime.now(UTC)
    if match := DURATION.match(value.strip()):
        return now - int(match[1]) * UNITS[match[2]]
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"--since {value!r} is neither a duration (e.g. 30d, 12h, 2w) nor an ISO 8601 time "
                         "(e.g. 2026-12-01 or 2026-12-01T09:00:00Z)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _at(moment: str) -> datetime:
    return datetime.fromisoformat(moment).astimezone(UTC)


def releases(records: list[Record]) -> list[Record]:
    """The records that rolled a new release out (not rollbacks, not calls stopped before any rollout)."""
    return [r for r in records if r.action in RELEASE_ACTIONS and r.changes]


# ---- history -------------------------------------------------------------------------------------------------
def history(records: list[Record], services: set[str] | None, fmt: OutputFormat | str, environment: str) -> str:
    """The records newest first, one row per call across both clouds; `services`: only calls touching one of them."""
    shown = [r for r in sorted(records, key=lambda r: _at(r.started), reverse=True)
             if not services or services & set(r.services)]
    table = Section(
        header=("started", "action", "outcome", "commit", "tag", "services", "actor", "cause"),
        rows=[(r.started, r.action, r.outcome, r.commit[:7], r.tag,
               ", ".join(f"{c.service} {c.outcome}" for c in r.changes), r.actor, r.cause) for r in shown],
    )
    data = [{**asdict(r), "outcome": r.outcome} for r in shown]
    return render(f"History of {environment}: {len(shown)} calls", [table], data, fmt)


# ---- DORA ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Dora:
    environment: str
    since: str
    until: str
    deployments: int
    per_day: float
    frequency: str  # daily / weekly / monthly / yearly (Four Keys' buckets); "none" without releases
    lead_time_seconds: float | None  # median
    failures: int
    change_failure_rate: float | None
    time_to_restore_seconds: float | None  # median
    weekly: list[tuple[str, int, int]]  # (week starting, releases, failures)


def moved_off(release: Record, later: list[Record]) -> Record | None:
    """The first later rollback that moved a target off what `release` rolled out."""
    return next((r for r in later if r.action == "rollback" and any(
        c.previous in release.images and c.outcome == Outcome.SUCCEEDED for c in r.changes)), None)


def failed(release: Record, later: list[Record]) -> bool:
    """Did not succeed everywhere, or a later rollback moved off it."""
    return release.outcome != Outcome.SUCCEEDED or moved_off(release, later) is not None


def restored_at(release: Record, later: list[Record]) -> datetime | None:
    """When the release before a failed one served again (None while it does not)."""
    if release.outcome in (Outcome.ROLLED_BACK, Outcome.REVERTED):
        return _at(release.ended)
    if (rollback := moved_off(release, later)) is not None:
        return _at(rollback.ended)
    return next((_at(r.ended) for r in later if r.changes and r.outcome == Outcome.SUCCEEDED), None)


def dora(records: list[Record], since: datetime, until: datetime, environment: str) -> Dora:
    ordered = sorted(records, key=lambda r: _at(r.started))
    window = [r for r in releases(ordered) if since <= _at(r.started) <= until]
    later = {r.id: [o for o in ordered if _at(o.started) > _at(r.started)] for r in window}
    failures = [r for r in window if failed(r, later[r.id])]
    restores = [(at - _at(r.started)).total_seconds() for r in failures
                if (at := restored_at(r, later[r.id])) is not None]
    leads = [(_at(r.ended) - _at(r.commit_time)).total_seconds() for r in window
             if r.commit_time and r.outcome == Outcome.SUCCEEDED]
    days = max((until - since).total_seconds() / 86400, 1 / 24)
    failed_ids = {r.id for r in failures}
    weeks = _weeks(since, until)
    weekly = [(week.date().isoformat(),
               sum(1 for r in window if _week_of(_at(r.started)) == week),
               sum(1 for r in window if _week_of(_at(r.started)) == week and r.id in failed_ids)) for week in weeks]
    return Dora(
        environment=environment, since=since.isoformat(timespec="seconds"), until=until.isoformat(timespec="seconds"),
        deployments=len(window), per_day=round(len(window) / days, 3),
        frequency=frequency_bucket([_at(r.started) for r in window], since, until),
        lead_time_seconds=statistics.median(leads) if leads else None,
        failures=len(failures), change_failure_rate=round(len(failures) / len(window), 4) if window else None,
        time_to_restore_seconds=statistics.median(restores) if restores else None,
        weekly=weekly,
    )


def _week_of(moment: datetime) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def _weeks(since: datetime, until: datetime) -> list[datetime]:
    weeks, week = [], _week_of(since)
    while week <= until:
        weeks.append(week)
        week += timedelta(weeks=1)
    return weeks


def frequency_bucket(starts: list[datetime], since: datetime, until: datetime) -> str:
    """Four Keys' deployment frequency bucket over the weeks and months of the window."""
    if not starts:
        return "none"
    days_per_week = Counter(_week_of(day) for day in {_day(s) for s in starts})
    weeks = _weeks(since, until)
    if statistics.median(days_per_week.get(w, 0) for w in weeks) >= 3:
        return "daily"
    if statistics.median(1 if days_per_week.get(w) else 0 for w in weeks) >= 1:
        return "weekly"
    months = sorted({(w.year, w.month) for w in weeks})
    per_month = Counter((s.year, s.month) for s in starts)
    if statistics.median(per_month.get(m, 0) for m in months) >= 1:
        return "monthly"
    return "yearly"


def _day(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def report(metrics: Dora, fmt: OutputFormat | str) -> str:
    rate = metrics.change_failure_rate
    rows = [
        ("deployment frequency", f"{metrics.frequency} ({metrics.deployments} releases, {metrics.per_day:g} a day)"),
        ("lead time for changes", f"{_duration(metrics.lead_time_seconds)} (median, commit -> serving)"),
        ("change failure rate", "-" if rate is None else f"{rate:.0%} ({metrics.failures} of {metrics.deployments})"),
        ("time to restore", f"{_duration(metrics.time_to_restore_seconds)} (median, failure -> previous serving)"),
    ]
    title = f"DORA metrics of {metrics.environment}, {metrics.since} to {metrics.until}"
    text = render(title, [Section(rows=rows)], asdict(metrics), fmt)
    if OutputFormat(fmt) is OutputFormat.markdown:
        text += "\n" + chart(metrics) + "\n"
    return text


def chart(metrics: Dora) -> str:
    """Releases and failures per week as a Mermaid xychart, which GitHub draws in a step summary."""
    labels = ", ".join(f'"{week[5:]}"' for week, _, _ in metrics.weekly)
    top = max([n for _, n, _ in metrics.weekly] + [1])
    return "\n".join([
        "```mermaid",
        "xychart-beta",
        f'    title "Releases and failures per week ({metrics.environment})"',
        f"    x-axis [{labels}]",
        f'    y-axis "releases" 0 --> {top}',
        f"    bar [{', '.join(str(n) for _, n, _ in metrics.weekly)}]",
        f"    line [{', '.join(str(f) for _, _, f in metrics.weekly)}]",
        "```",
    ])
