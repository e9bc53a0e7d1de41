"""What the workflows tier hands to act: a local copy of every action the workflows pin, at its SHA."""

from __future__ import annotations

import pytest
import yaml
from dojangkok_local import act

pytestmark = pytest.mark.unit


def metadata(copy) -> dict:
    return yaml.safe_load(next(copy.glob("action.y*ml")).read_text())


def test_every_action_the_workflows_pin_has_a_copy_act_can_run():
    copies = act.actions()
    assert copies.keys() == act.pinned() and copies
    for action, copy in copies.items():
        assert metadata(copy)["runs"]["using"] in {"composite", "node20", "node24"}, action


def test_an_action_pinned_at_a_commit_the_mirror_lacks_is_refused_naming_it(tmp_path, monkeypatch):
    (tmp_path / "ci.yml").write_text(
        "jobs:\n  x:\n    steps:\n      - uses: actions/checkout@" + "0" * 40 + " # v0\n")
    monkeypatch.setattr(act, "WORKFLOWS", tmp_path)
    with pytest.raises(act.MissingAction, match=r"actions/checkout@0{40}.*add that action.s archive"):
        act.actions()
