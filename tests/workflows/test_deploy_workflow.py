"""deploy.yml, run as GitHub runs it: nektos/act executes the unmodified workflow file of a clean clone on this host.
The job logs in as on GitHub, with its OIDC token (dojangkok_local.runner_logins: GitHub's token service, AWS STS in
moto, Google STS behind the proxy), and its `dagger call` reaches the emulated clouds and a local registry through
the repository variables deploy.yml reads (unset on GitHub)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from dojangkok_local import act, oidc, releases, runner_logins, settings
from dojangkok_local.drivers import emulated

pytestmark = pytest.mark.workflows

WORKFLOW = "deploy.yml"


def head(checkout: Path) -> str:
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_a_dispatched_rollback_puts_dev_back_on_the_previous_release_logged_in_by_oidc(
        engine_env, checkout, clouds, registry, registry_api, tmp_path):
    aws, gcp = clouds
    first, second = (releases.run(clouds, "dev", releases.images(registry, n)) for n in (1, 2))
    for name, image in second.items():
        registry_api.retag(f"dojangkok/{name}", image.partition("@")[2], "latest")  # as deploy left it
    job = oidc.Job(repository=runner_logins.REPOSITORY, repository_id=runner_logins.REPOSITORY_ID,
                   workflow=WORKFLOW, ref="refs/heads/main", event_name="workflow_dispatch", sha=head(checkout),
                   environment="dev", run_id="4242")
    inputs = {"env": "dev", "action": "rollback", "break_lock": "false"}

    with runner_logins.running(aws.endpoint) as logins:
        result = act.run(
            checkout, WORKFLOW, "workflow_dispatch", {"ref": job.ref, "inputs": inputs}, "rollback", tmp_path,
            env=logins.job(job), inputs=inputs, actor="octocat",
            variables=runner_logins.variables("dev", aws_endpoint=aws.endpoint, gcp_endpoint=gcp.endpoint,
                                              registry=registry))
        exchanges = logins.google.calls.entries()
        refused = list(logins.proxy.refused)

    assert result.jobs == {"rollback": "success"}, (tmp_path / "act.log").read_text()[-4000:]
    workflow = yaml.safe_load((checkout / ".github" / "workflows" / WORKFLOW).read_text())
    ran = {name: outcome for (job_id, name), outcome in result.steps.items() if job_id == "rollback"}
    assert [s["name"] for s in workflow["jobs"]["rollback"]["steps"] if ran.get(s["name"]) == "success"] == [
        s["name"] for s in workflow["jobs"]["rollback"]["steps"] if not s.get("if", "").endswith("== 'prd' }}")]
    # The clouds run release 1 again, `latest` names it, and the record says who rolled back, from which run.
    assert releases.serving(clouds, "dev") == first
    assert {name: releases.latest(registry_api, name) for name in first} == {
        name: image.partition("@")[2] for name, image in first.items()}
    record = emulated(settings("dev"), aws.endpoint, gcp.endpoint).records().read()[-1]
    assert (record.action, record.outcome, record.commit) == ("rollback", "succeeded", releases.commit(1))
    assert record.actor == "octocat (run 4242)"
    # Both logins were OIDC exchanges of this job's token: AWS STS assumed the variable's role, Google STS granted
    # the environment's subject through the provider; nothing else was reached through the proxy.
    assert "AssumeRoleWithWebIdentity" in {call.get("operation") for call in aws.calls()}
    assert exchanges == [{"audience": f"//iam.googleapis.com/{runner_logins.PROVIDER}", "outcome": "granted",
                          "subject": "repo:dojangkok/dojangkok:environment:dev"}]
    assert refused == []
