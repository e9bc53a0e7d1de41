"""The logins deploy.yml's jobs make, against this machine's stand-ins (dojangkok_local.runner_logins), driven by the
pinned actions' own code: each action's `main` under node with its inputs, as a runner starts it. The workflows tier
runs them inside whole jobs; here each login's refusals are shown too."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from dojangkok_local import act, oidc, runner_logins
from dojangkok_local.aws.server import aws_emulator

pytestmark = pytest.mark.emulator

GOOGLE_AUTH = "google-github-actions/auth"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"


def job(repository: str = runner_logins.REPOSITORY, environment: str = "dev") -> oidc.Job:
    return oidc.Job(repository=repository, repository_id=runner_logins.REPOSITORY_ID if repository ==
                    runner_logins.REPOSITORY else "5550123", workflow="deploy.yml", ref="refs/heads/main",
                    event_name="push", sha="ab" * 20, environment=environment)


def run_action(name: str, inputs: dict[str, str], who: oidc.Job, env: dict[str, str], workspace: Path
               ) -> tuple[int, dict, str]:
    """Run the pinned action `name`'s main script as a runner does for `who`: GitHub's variables of the job, inputs
    as INPUT_* (the action's defaults for the rest), the GITHUB_ENV file. Returns (exit status, the variables it
    exported, what it printed)."""
    (copy,) = [path for action, path in act.actions().items() if action.startswith(name + "@")]
    metadata = yaml.safe_load((copy / "action.yml").read_text())
    defaults = {key: str(spec["default"]) for key, spec in metadata["inputs"].items()
                if "default" in spec and "${{" not in str(spec["default"])}
    workspace.mkdir(exist_ok=True)
    exported, outputs = workspace.parent / f"{workspace.name}.env", workspace.parent / f"{workspace.name}.out"
    exported.write_text("")
    outputs.write_text("")
    environ = {"PATH": os.environ["PATH"], "HOME": str(workspace.parent), "GITHUB_WORKSPACE": str(workspace),
               "GITHUB_ENV": str(exported), "GITHUB_OUTPUT": str(outputs), "RUNNER_TEMP": str(workspace.parent),
               "GITHUB_REPOSITORY": who.repository, "GITHUB_WORKFLOW": who.workflow, "GITHUB_ACTION": "__run",
               "GITHUB_ACTOR": who.actor, "GITHUB_SHA": who.sha, "GITHUB_REF": who.ref, "GITHUB_RUN_ID": who.run_id,
               **env, **{f"INPUT_{key.upper()}": value for key, value in {**defaults, **inputs}.items()}}
    done = subprocess.run(["node", str(copy / metadata["runs"]["main"])], env=environ, capture_output=True,
                          text=True, timeout=120)
    # @actions/core writes each variable as NAME<<DELIMITER, the value, DELIMITER
    found = re.findall(r"^(\w+)<<(\S+)\n(.*?)\n\2$", exported.read_text(), re.MULTILINE | re.DOTALL)
    return done.returncode, {name: value for name, _, value in found}, done.stdout + done.stderr


@pytest.fixture
def logins():
    with aws_emulator() as aws, runner_logins.running(aws.endpoint) as running:
        aws.reset_calls()
        yield running, aws


def google_auth(logins: runner_logins.RunnerLogins, who: oidc.Job, workspace: Path) -> tuple[int, dict, str]:
    return run_action(GOOGLE_AUTH, {"workload_identity_provider": runner_logins.PROVIDER,
                                    "service_account": "dojangkok-deploy@dojangkok-dev.iam.gserviceaccount.com"},
                      who, logins.job(who), workspace)


def test_google_auth_exchanges_the_jobs_token_and_writes_workload_identity_credentials(logins, tmp_path):
    running, _ = logins
    status, exported, output = google_auth(running, job(), tmp_path / "workspace")
    assert status == 0, output
    credentials = json.loads(Path(exported["GOOGLE_APPLICATION_CREDENTIALS"]).read_text())
    assert credentials["type"] == "external_account"
    assert credentials["audience"] == f"//iam.googleapis.com/{runner_logins.PROVIDER}"
    assert credentials["token_url"] == "https://sts.googleapis.com/v1/token"  # noqa: S105 (a URL)
    assert running.google.calls.entries() == [{"audience": credentials["audience"], "outcome": "granted",
                                               "subject": f"repo:{runner_logins.REPOSITORY}:environment:dev"}]
    assert running.proxy.refused == []


def test_google_sts_refuses_another_repositorys_token_naming_the_attribute_condition(logins, tmp_path):
    running, _ = logins
    status, _, output = google_auth(running, job(repository="mallory/dojangkok"), tmp_path / "workspace")
    assert status != 0
    assert "rejected by the attribute condition" in output and "mallory/dojangkok" in output
    assert [call["outcome"] for call in running.google.calls.entries()] == ["refused"]


def test_google_sts_refuses_a_token_for_another_audience_or_expired(logins):
    running, _ = logins
    audience = f"https://iam.googleapis.com/{runner_logins.PROVIDER}"
    exchange = {"grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
                "subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
                "audience": f"//iam.googleapis.com/{runner_logins.PROVIDER}"}
    assert running.google.exchange({**exchange, "subject_token": running.tokens.token(job(), audience)})[0] == 200
    for token in (running.tokens.token(job(), "sts.amazonaws.com"),
                  running.tokens.token(job(), audience, issued_at=0)):
        status, body = running.google.exchange({**exchange, "subject_token": token})
        assert (status, body["error"]) == (400, "invalid_grant"), body
    status, body = running.google.exchange({**exchange, "subject_token": "not-a-token"})
    assert (status, body["error"]) == (400, "invalid_grant")


def test_aws_credentials_come_from_assume_role_with_web_identity(logins, tmp_path):
    running, aws = logins
    role = "arn:aws:iam::123456789012:role/dojangkok-deploy-dev"
    status, exported, output = run_action(
        AWS_CREDENTIALS, {"role-to-assume": role, "aws-region": "ap-northeast-2",
                          "role-session-name": "dojangkok-deploy-dev", "role-duration-seconds": "14400"},
        job(), running.job(job()), tmp_path / "workspace")
    assert status == 0, output
    assert exported["AWS_ACCESS_KEY_ID"] and exported["AWS_SESSION_TOKEN"]
    assert "AssumeRoleWithWebIdentity" in {call["operation"] for call in aws.calls()}
    (issued,) = [claims for claims in running.tokens.issued if claims["aud"] == "sts.amazonaws.com"]
    assert issued["sub"] == f"repo:{runner_logins.REPOSITORY}:environment:dev"


def test_a_token_request_without_the_jobs_request_token_is_refused(logins):
    running, _ = logins
    env = running.job(job())
    answer = httpx.get(env["ACTIONS_ID_TOKEN_REQUEST_URL"] + "&audience=x", headers={"Authorization": "Bearer guess"})
    assert answer.status_code == 401


def test_the_proxy_tunnels_to_no_host_but_the_ones_it_answers_for(logins):
    running, _ = logins
    with pytest.raises(httpx.ProxyError):
        httpx.get("https://example.com/", proxy=running.proxy.url, timeout=10)
    assert running.proxy.refused == ["example.com:443"]
