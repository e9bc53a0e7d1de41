"""ci.yml, run for a pull request as GitHub runs it: nektos/act executes the unmodified workflow file of a clean
clone on this host, with the actions pinned at their SHAs and the released `dagger` CLI on the local engine."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from dojangkok.catalogue import AMD64, BUILT
from dojangkok_local import act

pytestmark = pytest.mark.workflows

WORKFLOW = "ci.yml"


def step_names(checkout: Path, job: str) -> list[str]:
    workflow = yaml.safe_load((checkout / ".github" / "workflows" / WORKFLOW).read_text())
    return [step["name"] for step in workflow["jobs"][job]["steps"]]


def pull_request(checkout: Path, job: str, scratch: Path, matrix: dict[str, str] | None = None) -> act.Run:
    return act.run(checkout, WORKFLOW, "pull_request", act.pull_request(checkout), job, scratch, matrix=matrix)


@pytest.mark.parametrize("job", ["module", "test"])
def test_a_pull_request_passes_every_step_of_the_job(engine_env, checkout, tmp_path, job):
    result = pull_request(checkout, job, tmp_path)
    assert result.jobs == {job: "success"}, (tmp_path / "act.log").read_text()[-3000:]
    # Every step of the workflow's job ran and passed: none skipped, none of act's own.
    assert result.steps == {(job, name): "success" for name in step_names(checkout, job)}
    assert result.returncode == 0


def test_a_pull_request_builds_the_amd64_share_on_its_runner(engine_env, checkout, tmp_path):
    """The build matrix's amd64 leg, on the ubuntu-24.04 label (this host): what ships amd64 builds, nothing is
    emulated. The arm64 leg is the same step with another value (its builds under QEMU here belong to the engine
    tier and the benchmarks)."""
    result = pull_request(checkout, "build", tmp_path, matrix={"platform": AMD64})
    assert result.jobs == {"build": "success"}, (tmp_path / "act.log").read_text()[-3000:]
    assert result.steps == {("build", name): "success" for name in step_names(checkout, "build")}
    rows = {tuple(line.split()) for line in result.output["build", "dagger call build"].splitlines()}
    built = {row for row in rows if len(row) == 2 and row[0] in {s.name for s in BUILT}}
    assert built == {(s.name, AMD64) for s in BUILT if AMD64 in s.platforms}
    assert result.returncode == 0


def test_a_pull_request_whose_frontend_test_fails_fails_the_test_job_naming_frontend(engine_env, failing_frontend_test,
                                                                                    tmp_path):
    result = pull_request(failing_frontend_test, "test", tmp_path)
    assert result.returncode != 0
    assert result.jobs == {"test": "failure"}
    assert result.steps["test", "dagger call test"] == "failure"
    output = result.output["test", "dagger call test"]
    assert "frontend: tests failed" in output and "deliberately broken" in output
