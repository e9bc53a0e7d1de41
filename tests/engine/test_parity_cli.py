"""Every `dagger call` line of the README, docs/ and the workflows loads and parses on the real CLI."""

from __future__ import annotations

import shutil

import pytest
from dojangkok_local import ROOT, parity

pytestmark = pytest.mark.engine


def test_every_documented_and_automated_line_is_accepted_by_the_cli(engine_env):
    calls = parity.calls_in(parity.default_sources(), ROOT)
    functions = {word for c in calls if c.path.startswith(".github/") for word in c.argv}
    assert {"test", "build", "deploy", "rollback", "plan"} <= functions, f"the workflows should call these: {functions}"
    problems = parity.check(calls)
    assert not problems, "dagger call lines the CLI refuses:\n" + "\n".join(map(str, problems))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ('deploy --env dev --branch "$BRANCH"', 'deploi --env dev --branch "$BRANCH"', 'unknown command "deploi"'),
        ('--env dev --branch "$BRANCH"', '--env dev --brunch "$BRANCH"', "unknown flag: --brunch"),
        ("--session-token env:AWS_SESSION_TOKEN", "--token env:AWS_SESSION_TOKEN", "unknown flag: --token"),
        ('plan --env prd --version "$VERSION"', 'plan --env prod --version "$VERSION"', 'invalid argument "prod"'),
    ],
)
def test_a_broken_workflow_line_is_caught(engine_env, tmp_path, before, after, expected):
    copy = tmp_path / "deploy.yml"
    shutil.copy(ROOT / ".github" / "workflows" / "deploy.yml", copy)
    text = copy.read_text()
    assert before in text, f"deploy.yml no longer contains {before!r}; pick another line to break"
    copy.write_text(text.replace(before, after, 1))
    # The lines the edit changed go through the CLI; the others are the test above's (each call loads the module).
    unchanged = {call.argv for call in parity.calls_in([ROOT / ".github" / "workflows" / "deploy.yml"])}
    changed = [call for call in parity.calls_in([copy]) if call.argv not in unchanged]
    assert changed, f"replacing {before!r} changed no dagger call line"
    problems = parity.check(changed)
    assert any(expected in p.message for p in problems), [str(p) for p in problems]
