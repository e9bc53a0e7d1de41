"""The zero-downtime pictures: what each second shows, worked out by hand, and the PNG they are drawn into."""

from __future__ import annotations

import pytest
from dojangkok_local.bench.charts import draw, file_name, labels, per_second
from dojangkok_local.load import Sample, summarize
from dojangkok_local.zero_downtime import Outcome

pytestmark = pytest.mark.unit

STARTED = 100.0  # time.monotonic() at the call's start
RELEASES = {"10.0.0.1": "r1", "10.0.0.2": "r2"}

# second -1 (before the call): two answers from r1; second 0: r1, r2, a failure; second 2: r2 twice
SAMPLES = [
    Sample(99.1, 0.010, 200, "10.0.0.1"), Sample(99.6, 0.030, 200, "10.0.0.1"),
    Sample(100.0, 0.020, 200, "10.0.0.1"), Sample(100.5, 0.040, 200, "10.0.0.2"), Sample(100.9, 5.0, 0, ""),
    Sample(102.2, 0.015, 200, "10.0.0.2"), Sample(102.7, 0.025, 200, "10.0.0.2"),
]


def test_each_second_counts_who_answered_what_failed_and_its_p95():
    series = per_second(SAMPLES, STARTED, RELEASES.get)
    assert series.seconds == [-1, 0, 1, 2]
    assert series.answered == {"r1": [2, 1, 0, 0], "r2": [0, 1, 0, 2]}
    assert series.failed == [0, 1, 0, 0]
    assert series.p95_ms == [30.0, 5000.0, None, 25.0]  # failures count: users waited for them


def test_a_scenario_is_drawn_into_a_png_named_after_it(tmp_path):
    outcome = Outcome("blue/green release", "frontend", True, summarize(SAMPLES, RELEASES.get), 3.0, 0.8,
                      samples=SAMPLES, started=STARTED, marks=[(0.8, "switch"), (2.0, "i-1 draining"),
                                                              (3.0, "call ended")])
    path = draw(outcome, RELEASES.get, tmp_path / file_name(outcome.scenario))
    assert path.name == "blue-green-release.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_pool_steps_within_a_second_share_one_label_by_what_happened():
    marks = [(61.2, "i-0a in"), (61.4, "i-0b in"), (68.1, "switch"), (68.3, "i-01 draining"), (68.5, "i-02 draining"),
             (70.0, "i-0c in"), (98.6, "call ended")]
    assert labels(marks) == [(61.2, "2 in"), (68.1, "switch"), (68.3, "2 draining"), (70.0, "1 in"),
                             (98.6, "call ended")]
