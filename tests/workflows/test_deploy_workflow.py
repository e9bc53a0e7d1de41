"""deploy.yml, run as GitHub runs it: nektos/act executes the unmodified workflow file of a clean clone on this host.
The job logs in as on GitHub, with its OIDC token (dojangkok_local.runner_logins: GitHub's token service, AWS STS in
moto, Google STS behind the proxy), and its `dagger call` reaches the emulated clouds and a local registry through
the repository variables deploy.yml reads (unset on GitHub)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from dojangkok.deploy.lock import LockRecord
from dojangkok_local import act, oidc, releases, runner_logins

pytestmark = pytest.mark.workflows

WORKFLOW = "deploy.yml"


@dataclass(frozen=True)
class Logged:
    """A run of a deploy.yml job, and what its logins did."""

    result: act.Run
    exchanges: list[dict]  # Google STS's answers
    refused: list[str]  # destinations the proxy would not reach


def run_job(checkout: Path, clouds, registry: str, scratch: Path, job: str, event: str, payload: dict,
            who: oidc.Job, inputs: dict[str, str] | None = None) -> Logged:
    """deploy.yml's `job` for `event`, logged in as `who` through the runner logins, on the emulated clouds."""
    aws, gcp = clouds
    with runner_logins.running(aws.endpoint) as logins:
        result = act.run(checkout, WORKFLOW, event, payload, job, scratch, env=logins.job(who), inputs=inputs,
                         actor=who.actor, variables=runner_logins.variables(
                             "dev", aws_endpoint=aws.endpoint, gcp_endpoint=gcp.endpoint, registry=registry))
        return Logged(result, logins.google.calls.entries(), list(logins.proxy.refused))


def who(checkout: Path, event: str) -> oidc.Job:
    """The identity GitHub gives deploy.yml's dev jobs: this repository, main, the dev environment."""
    return oidc.Job(repository=runner_logins.REPOSITORY, repository_id=runner_logins.REPOSITORY_ID, workflow=WORKFLOW,
                    ref="refs/heads/main", event_name=event, sha=act.head(checkout), environment="dev", run_id="4242")


def steps_that_passed(checkout: Path, result: act.Run, job: str) -> list[str]:
    workflow = yaml.safe_load((checkout / ".github" / "workflows" / WORKFLOW).read_text())
    return [s["name"] for s in workflow["jobs"][job]["steps"] if result.steps.get((job, s["name"])) == "success"]


def logged_in_by_oidc(logged: Logged, aws) -> None:
    """Both logins were OIDC exchanges of the job's token: AWS STS assumed a role with it, Google STS granted the
    dev environment's subject through the provider; nothing was reached through the proxy but Google STS."""
    assert "AssumeRoleWithWebIdentity" in {call["operation"] for call in aws.calls()}
    assert logged.exchanges == [{"audience": f"//iam.googleapis.com/{runner_logins.PROVIDER}", "outcome": "granted",
                                 "subject": f"repo:{runner_logins.REPOSITORY}:environment:dev"}]
    assert logged.refused == []


def two_releases_of_everything(clouds, registry: str, registry_api) -> tuple[dict[str, str], dict[str, str]]:
    """dev ran release 1 then release 2 of every service (a dispatched rollback takes them all back)."""
    first, second = (releases.run(clouds, "dev", releases.images(registry, n, releases.EVERY)) for n in (1, 2))
    for name, image in second.items():
        registry_api.retag(f"dojangkok/{name}", image.partition("@")[2], "latest")  # as deploy left it
    return first, second


def dispatch_rollback(checkout: Path, clouds, registry: str, scratch: Path, break_lock: bool = False) -> Logged:
    inputs = {"env": "dev", "action": "rollback", "break_lock": str(break_lock).lower()}
    return run_job(checkout, clouds, registry, scratch, "rollback", "workflow_dispatch",
                   {"ref": "refs/heads/main", "inputs": inputs}, who(checkout, "workflow_dispatch"), inputs)


def test_a_dispatched_rollback_puts_dev_back_on_the_previous_release(engine_env, checkout, clouds, registry,
                                                                     registry_api, tmp_path):
    aws, _ = clouds
    first, _ = two_releases_of_everything(clouds, registry, registry_api)

    logged = dispatch_rollback(checkout, clouds, registry, tmp_path)

    assert logged.result.jobs == {"rollback": "success"}, (tmp_path / "act.log").read_text()[-4000:]
    assert steps_that_passed(checkout, logged.result, "rollback") == [
        "Check out", "AWS credentials (OIDC)", "GCP credentials (workload identity federation)",
        "dagger call rollback", "Summary"]  # dora: prd only
    # The clouds run release 1 again, `latest` names it, and the record says who rolled back, from which run.
    assert releases.serving(clouds, "dev", releases.EVERY) == first
    assert {name: releases.latest(registry_api, name) for name in first} == {
        name: image.partition("@")[2] for name, image in first.items()}
    record = releases.drivers(clouds, "dev").records().read()[-1]
    assert (record.action, record.outcome, record.commit) == ("rollback", "succeeded", releases.commit(1))
    assert record.actor == "octocat (run 4242)"
    logged_in_by_oidc(logged, aws)


def test_a_push_whose_tests_fail_does_not_reach_dev(engine_env, failing_frontend_test, clouds, registry,
                                                    registry_api, tmp_path):
    aws, gcp = clouds
    running = releases.run(clouds, "dev", releases.images(registry, 1))
    tags = {name: registry_api.tags(f"dojangkok/{name}") for name in running}
    sha = act.head(failing_frontend_test)

    # The dev job, with the jobs it needs: the tests, then each platform's share.
    logged = run_job(failing_frontend_test, clouds, registry, tmp_path, "dev", "push",
                     {"ref": "refs/heads/main", "after": sha, "deleted": False,
                      "head_commit": {"id": sha, "timestamp": "2026-12-07T10:00:00+09:00"}},
                     who(failing_frontend_test, "push"))

    assert logged.result.jobs == {"test": "failure"}, (tmp_path / "act.log").read_text()[-4000:]
    assert logged.result.steps["test", "dagger call test"] == "failure"
    assert "frontend: tests failed" in logged.result.output["test", "dagger call test"]
    assert not {job for job, _ in logged.result.steps} - {"test"}  # no share was built, no deploy started
    # The commit never got a cloud identity: no login, no cloud call, nothing pushed; dev is as it was.
    assert aws.calls() == [] and gcp.calls() == [] and logged.exchanges == [] and logged.refused == []
    assert releases.serving(clouds, "dev") == running
    assert {name: registry_api.tags(f"dojangkok/{name}") for name in running} == tags


def test_a_rollback_dispatched_while_a_killed_run_holds_the_lock_breaks_it_only_when_asked(
        engine_env, checkout, clouds, registry, registry_api, tmp_path):
    first, second = two_releases_of_everything(clouds, registry, registry_api)
    lock = releases.drivers(clouds, "dev").lock()
    killed = LockRecord(environment="dev", holder="octocat (run 4100)", action="deploy",
                        release="dev-main-202612070900", services=("backend",))
    lock.acquire(killed)  # the run that took it was killed: nothing will release it

    refused = dispatch_rollback(checkout, clouds, registry, tmp_path / "refused")
    assert refused.result.jobs == {"rollback": "failure"}
    assert "dev is locked by another deploy: deploy of dev-main-202612070900 (backend) by octocat (run 4100)" in \
        refused.result.output["rollback", "dagger call rollback"]
    assert releases.serving(clouds, "dev", releases.EVERY) == second and lock.holder() == killed

    broken = dispatch_rollback(checkout, clouds, registry, tmp_path / "broken", break_lock=True)
    assert broken.result.jobs == {"rollback": "success"}, (tmp_path / "broken" / "act.log").read_text()[-4000:]
    assert releases.serving(clouds, "dev", releases.EVERY) == first
    assert lock.holder() is None  # broken, then the rollback's own lock released when it ended
