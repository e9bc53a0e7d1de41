"""The GitHub Actions workflows hold to the project's hardening rules, and actionlint and zizmor agree.

actionlint and zizmor come from scripts/lint-tools (actionlint built into .cache/bin, zizmor in the venv);
when they are missing these tests fail and say so, rather than skip: an unlinted workflow must not look green.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dojangkok.catalogue import BUILT
from dojangkok_local import parity
from dojangkok_local import settings as harness_settings

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS_DIR = ROOT / ".github" / "workflows"
CI = WORKFLOWS_DIR / "ci.yml"
DEPLOY = WORKFLOWS_DIR / "deploy.yml"
WORKFLOWS = [CI, DEPLOY]

VENV_BIN = Path(sys.executable).parent
ACTIONLINT = ROOT / ".cache" / "bin" / "actionlint"
FULL_SHA = re.compile(r"[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"#\s*v\d+\.\d+\.\d+\b")

CHECKOUT = "actions/checkout"
DAGGER = "dagger/dagger-for-github"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
GCP_AUTH = "google-github-actions/auth"
QEMU = "docker/setup-qemu-action"
# GitHub-hosted runner labels and their machines' architecture.
RUNNER_PLATFORMS = {"ubuntu-24.04": "linux/amd64", "ubuntu-24.04-arm": "linux/arm64"}


def load(path: Path) -> dict:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in data:
        data["on"] = data.pop(True)
    return data


def jobs(path: Path) -> dict[str, dict]:
    return load(path)["jobs"]


def steps(path: Path):
    for job_name, job in jobs(path).items():
        for step in job.get("steps", []):
            yield job_name, step


def action(step: dict) -> str:
    return step.get("uses", "").split("@")[0]


def steps_using(path: Path, name: str):
    return [(job, step) for job, step in steps(path) if action(step) == name]


def workflow_id(path: Path) -> str:
    return path.name


def test_both_workflows_exist():
    for path in WORKFLOWS:
        assert path.is_file(), f"{path.relative_to(ROOT)} is missing"


# --------------------------------------------------------------------------- pinning


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_every_uses_is_pinned_to_a_full_commit_with_its_version_in_a_comment(path):
    lines = [line for line in path.read_text().splitlines() if re.match(r"\s*(-\s+)?uses:", line)]
    parsed = [step["uses"] for _, step in steps(path) if "uses" in step]
    parsed += [job["uses"] for job in jobs(path).values() if "uses" in job]  # reusable workflows
    assert len(lines) == len(parsed), "every uses: should sit on its own line"
    for line in lines:
        reference = line.split("uses:", 1)[1].split("#", 1)[0].strip().strip("\"'")
        if reference.startswith("./"):
            continue  # an action in this repository: pinned by the checkout itself
        name, _, ref = reference.partition("@")
        assert FULL_SHA.fullmatch(ref), f"{path.name}: {name} is pinned to {ref!r}, not a full 40-hex commit"
        assert VERSION_COMMENT.search(line), f"{path.name}: {name}@{ref} needs its release in a comment: # vX.Y.Z"


def test_an_action_is_pinned_to_the_same_commit_and_release_everywhere():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            match = re.search(r"uses:\s*([^@\s]+)@([0-9a-f]{40})\s*#\s*(v\S+)", line)
            if match:
                pins.setdefault(match.group(1), set()).add(f"{match.group(2)} {match.group(3)}")
    assert pins, "no pinned actions found"
    drifted = {name: refs for name, refs in pins.items() if len(refs) > 1}
    assert not drifted, f"the same action pinned differently: {drifted}"


def test_the_dagger_action_runs_the_module_engine_version():
    engine = json.loads((ROOT / "dagger.json").read_text())["engineVersion"]
    found = 0
    for path in WORKFLOWS:
        for job, step in steps_using(path, DAGGER):
            found += 1
            version = str(step.get("with", {}).get("version", "latest"))
            assert f"v{version.removeprefix('v')}" == engine, (
                f"{path.name} job {job}: dagger-for-github installs {version!r}; dagger.json wants {engine}"
            )
    assert found >= 4


# --------------------------------------------------------------------------- permissions and tokens


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_top_level_permissions_are_empty(path):
    data = load(path)
    assert "permissions" in data, f"{path.name}: declare `permissions: {{}}` at the top"
    assert data["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}, got {data['permissions']}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_every_job_grants_its_own_permissions_each_with_a_reason(path):
    text_lines = path.read_text().splitlines()
    root = yaml.compose(path.read_text())
    jobs_node = next(v for k, v in root.value if k.value == "jobs")
    for job_key, job_node in jobs_node.value:
        permissions = next((v for k, v in job_node.value if k.value == "permissions"), None)
        assert isinstance(permissions, yaml.MappingNode), f"{path.name} job {job_key.value}: no permissions block"
        for key, value in permissions.value:
            line = text_lines[key.start_mark.line]
            assert "#" in line, f"{path.name} job {job_key.value}: say why it needs {key.value}: {value.value}"
            assert value.value in ("read", "write", "none")


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_only_deploy_jobs_get_an_oidc_token_and_nothing_else_writes(path):
    for name, job in jobs(path).items():
        permissions = job.get("permissions", {})
        writes = {scope for scope, level in permissions.items() if level == "write"}
        assert writes <= {"id-token"}, f"{path.name} job {name} asks to write {writes}"
        if "id-token" in writes:
            assert path == DEPLOY and "environment" in job, f"{path.name} job {name}: OIDC only for deploy jobs"
    if path == CI:
        assert all("id-token" not in job.get("permissions", {}) for job in jobs(path).values())


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_checkout_does_not_persist_credentials(path):
    checkouts = steps_using(path, CHECKOUT)
    assert checkouts, f"{path.name} checks nothing out?"
    for job, step in checkouts:
        assert step.get("with", {}).get("persist-credentials") is False, (
            f"{path.name} job {job}: actions/checkout needs `persist-credentials: false`"
        )


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_no_expressions_inside_run_scripts(path):
    for job, step in steps(path):
        if "run" in step:
            assert "${{" not in step["run"], (
                f"{path.name} job {job} step {step.get('name')!r}: pass values through env:, not ${{{{ }}}} in run:"
            )


# Inputs that hand an action a stored key instead of an OIDC exchange.
KEY_INPUTS = {
    AWS_CREDENTIALS: {"aws-access-key-id", "aws-secret-access-key", "aws-session-token", "web-identity-token-file"},
    GCP_AUTH: {"credentials_json"},
}
CREDENTIAL_VARIABLES = re.compile(r"AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)|GOOGLE_\w*CREDENTIALS\w*")


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_no_stored_secrets_at_all(path):
    assert "secrets." not in path.read_text(), f"{path.name} reads a repository secret; cloud access is OIDC only"


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_credentials_come_only_from_oidc(path):
    data = load(path)
    env_blocks = [("workflow", data.get("env", {}))]
    for job_name, job in data["jobs"].items():
        env_blocks.append((job_name, job.get("env", {})))
        env_blocks += [(job_name, step.get("env", {})) for step in job.get("steps", [])]
    for where, env in env_blocks:
        planted = [name for name in env if CREDENTIAL_VARIABLES.fullmatch(name)]
        assert not planted, f"{path.name} {where}: sets {planted} itself; only the OIDC actions may set them"
    for job_name, step in steps(path):
        stored = KEY_INPUTS.get(action(step), set()) & set(step.get("with", {}))
        assert not stored, f"{path.name} job {job_name}: {action(step)} given {stored}; use OIDC"


def chain(call: str) -> dict[str, dict[str, str]]:
    """A `dagger call` chain as {function: {flag: value}}, e.g. with-aws, with-gcp, deploy: its words as GitHub's
    shell sees them (parity reads them), the variables left unexpanded."""
    functions: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    (line,) = parity.calls_in_shell("dagger call " + " ".join(call.split()), "deploy.yml", 1)
    words = line.argv
    index = 0
    while index < len(words):
        word = words[index]
        if word.startswith("--"):
            flag, _, inline = word.partition("=")
            if inline or index + 1 == len(words) or words[index + 1].startswith("--"):
                current[flag] = inline or "true"
            else:
                current[flag] = words[index + 1]
                index += 1
        else:
            current = functions.setdefault(word, {})
        index += 1
    return functions


def dagger_chains(job: dict) -> list[dict[str, dict[str, str]]]:
    return [chain(step["with"].get("call", "")) for step in job["steps"] if action(step) == DAGGER]


def test_the_module_gets_the_oidc_session_as_dagger_secrets():
    """Deploy and rollback declare the OIDC exports once, through Dagger's env:/file: secret providers; plan gets
    no credentials at all."""
    for name, job in jobs(DEPLOY).items():
        order = [action(step) for step in job["steps"]]
        for index, step in enumerate(job["steps"]):
            if action(step) != DAGGER:
                continue
            functions = chain(step["with"]["call"])
            if "plan" in functions or "test" in functions:
                assert not CREDENTIAL_VARIABLES.search(step["with"]["call"]), "plan and test touch no cloud"
                continue
            aws = functions["with-aws"]
            assert aws["--access-key-id"] == "env:AWS_ACCESS_KEY_ID", name
            assert aws["--secret-access-key"] == "env:AWS_SECRET_ACCESS_KEY", name
            assert aws["--session-token"] == "env:AWS_SESSION_TOKEN", name  # a role session, not a user key
            assert "--endpoint" not in aws, "production talks to the clouds themselves"
            assert order.index(AWS_CREDENTIALS) < index, name
            if "dora" in functions:
                assert "with-gcp" not in functions, "dora reads the release records in the bundle bucket only"
                continue
            gcp = functions["with-gcp"]
            assert gcp["--credentials"] == "file:$GOOGLE_APPLICATION_CREDENTIALS", name
            assert "--endpoint" not in gcp, "production talks to the clouds themselves"
            assert order.index(GCP_AUTH) < index, name


def rolling_out(path: Path) -> dict[str, dict]:
    """The jobs that take an environment's deploy lock: their calls say who holds it (--actor)."""
    return {name: job for name, job in jobs(path).items()
            if any("--actor" in flags for chain in dagger_chains(job) for flags in chain.values())}


def test_deploy_jobs_authenticate_with_oidc_roles_from_variables():
    deploy_jobs = {name: job for name, job in jobs(DEPLOY).items() if "environment" in job}
    assert set(deploy_jobs) == {"share", "dev", "prd", "rollback"}
    for name, job in deploy_jobs.items():
        uses = {action(step): step for step in job["steps"]}
        aws = uses[AWS_CREDENTIALS]["with"]
        assert aws["role-to-assume"].replace(" ", "") == "${{vars.AWS_ROLE_ARN}}", name
        assert set(aws) <= {"role-to-assume", "aws-region", "role-session-name", "role-duration-seconds"}, name
        gcp = uses[GCP_AUTH]["with"]
        assert gcp["workload_identity_provider"].replace(" ", "") == "${{vars.GCP_WORKLOAD_IDENTITY_PROVIDER}}"
        assert gcp["service_account"].replace(" ", "") == "${{vars.GCP_SERVICE_ACCOUNT}}"
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        # Credentials are set up before the pipeline runs.
        order = [action(step) for step in job["steps"]]
        assert order.index(AWS_CREDENTIALS) < order.index(DAGGER), name
        assert order.index(GCP_AUTH) < order.index(DAGGER), name


# --------------------------------------------------------------------------- what runs when


def test_ci_tests_builds_and_loads_the_module_on_pull_requests_and_main():
    data = load(CI)
    assert "pull_request" in data["on"]
    assert data["on"]["push"]["branches"] == ["main"]
    called = {fn for job in data["jobs"].values() for functions in dagger_chains(job) for fn in functions}
    assert {"test", "build", "plan"} <= called
    verbs = {step["with"].get("verb") for _, step in steps_using(CI, DAGGER)}
    assert "functions" in verbs  # `dagger functions` on the hosted runner: the module loads there


@pytest.mark.parametrize(("path", "job", "function"), [(CI, "build", "build"), (DEPLOY, "share", "publish")],
                         ids=["ci build", "deploy share"])
def test_every_platform_is_built_on_a_runner_of_its_own_architecture(path, job, function):
    """A matrix leg per platform, on a runner of that architecture, builds only the platforms the services ship
    among its own; together the legs cover every platform the catalogue ships."""
    definition = jobs(path)[job]
    legs = definition["strategy"]["matrix"]["include"]
    assert definition["runs-on"].replace(" ", "") == "${{matrix.runner}}"
    assert all(RUNNER_PLATFORMS[leg["runner"]] == leg["platform"] for leg in legs)
    assert {leg["platform"] for leg in legs} == {p for svc in BUILT for p in svc.platforms}
    (step,) = [step for step in definition["steps"] if action(step) == DAGGER]
    flags = chain(step["with"]["call"])[function]
    assert step["env"]["PLATFORM"].replace(" ", "") == "${{matrix.platform}}" and flags["--platform"] == "$PLATFORM"
    assert flags.get("--shipped-only" if function == "build" else "--by-digest") == "true"


@pytest.mark.parametrize("path", WORKFLOWS, ids=workflow_id)
def test_nothing_is_emulated_in_any_workflow(path):
    assert not steps_using(path, QEMU), f"{path.name}: every image builds on a runner of its own architecture"


def test_ci_runs_the_emulator_tier():
    runs = [step.get("run", "") for job in jobs(CI).values() for step in job["steps"]]
    assert any("pytest -m emulator" in run for run in runs)


def test_deploy_triggers():
    on = load(DEPLOY)["on"]
    assert on["push"]["branches"] == ["main"]
    assert on["push"]["tags"] == ["v*"]
    inputs = on["workflow_dispatch"]["inputs"]
    assert inputs["env"]["type"] == "choice" and inputs["env"]["options"] == ["dev", "prd"]
    assert inputs["action"]["options"] == ["rollback"]
    assert inputs["break_lock"]["type"] == "boolean" and inputs["break_lock"]["default"] is False


def test_main_deploys_dev_tags_promote_to_prd_and_dispatch_rolls_back():
    deploy_jobs = jobs(DEPLOY)
    test, share, dev = deploy_jobs["test"], deploy_jobs["share"], deploy_jobs["dev"]
    prd, rollback = deploy_jobs["prd"], deploy_jobs["rollback"]
    assert "github.ref_type == 'branch'" in dev["if"] and dev["environment"] == "dev"
    assert "github.ref_type == 'tag'" in prd["if"] and prd["environment"] == "prd"
    assert "workflow_dispatch" in rollback["if"]
    assert rollback["environment"].replace(" ", "") == "${{inputs.env}}"

    def last(job: dict, function: str) -> dict[str, str]:
        return next(functions[function] for functions in reversed(dagger_chains(job)) if function in functions)

    # A plan first, then the deploy of the same release; dev labels its images with the commit ...
    declared = {"with-aws", "with-gcp", "with-keyless-signing"}
    # dev deploys only a commit whose tests passed: they run first, then each platform's share is pushed by digest,
    # then dev merges every share into the release it rolls out.
    assert [next(iter(set(c) - declared)) for c in dagger_chains(test)] == ["test"]
    assert (share["needs"], dev["needs"]) == ("test", "share")
    assert [next(iter(set(c) - declared)) for c in dagger_chains(share)] == ["publish"]
    assert (last(share, "publish")["--env"], last(share, "publish")["--commit"]) == ("dev", "$COMMIT")
    assert [next(iter(set(c) - declared)) for c in dagger_chains(dev)] == ["plan", "deploy"]
    assert last(dev, "deploy")["--env"] == "dev" and last(dev, "deploy")["--branch"] == "$BRANCH"
    assert last(dev, "deploy")["--commit"] == "$COMMIT" and last(dev, "deploy")["--image"] == "$IMAGES"
    # IMAGES: every leg's images, each leg writing the job output named after it.
    legs = [leg["output"] for leg in share["strategy"]["matrix"]["include"]]
    assert {name: value.replace(" ", "") for name, value in share["outputs"].items()} == {
        leg: f"${{{{steps.images.outputs.{leg}}}}}" for leg in legs}
    images = next(step for step in dev["steps"] if step.get("id") == "deploy")["env"]["IMAGES"].split("#")[0]
    assert images.replace(" ", "").split(",") == [f"${{{{needs.share.outputs.{leg}}}}}" for leg in legs]
    # ... and a tag promotes exactly those images: prd builds nothing.
    assert [next(iter(set(c) - declared)) for c in dagger_chains(prd)] == ["plan", "promote", "dora"]
    assert (last(prd, "promote")["--version"], last(prd, "promote")["--commit"]) == ("$VERSION", "$COMMIT")
    assert last(rollback, "rollback")["--env"] == "$TARGET_ENV"
    assert last(rollback, "rollback")["--break-lock"] == "$BREAK_LOCK"  # a killed run's lock can be broken
    # dev records its commit's time, where the lead time starts; every prd run ends with prd's DORA metrics.
    assert last(dev, "deploy")["--commit-time"] == "$COMMIT_TIME"
    for job in (prd, rollback):
        assert last(job, "dora") == {"--env": "prd", "--format": "markdown"}
        dora = next(step for step in job["steps"] if step.get("id") == "dora")
        assert "!cancelled()" in dora["if"]  # after a failed rollout too: that is when the figures change
        assert job["steps"][-1]["env"]["DORA"].replace(" ", "") == "${{steps.dora.outputs.output}}"
    # Every share, plan, deploy and promote verifies against the one pinned signer; only the shares and dev's deploy
    # sign (keyless).
    for functions in dagger_chains(share) + dagger_chains(dev) + dagger_chains(prd):
        if "dora" not in functions:  # the records' metrics touch no image
            assert functions["with-keyless-signing"]["--identity"] == "$SIGNER"
    for job in (share, dev):  # the shares sign their images, dev the release's indexes
        assert last(job, "with-keyless-signing")["--oidc-request-token"] == "env:ACTIONS_ID_TOKEN_REQUEST_TOKEN"
    assert "--oidc-request-token" not in last(prd, "with-keyless-signing")
    signer = load(DEPLOY)["env"]["SIGNER"].replace(" ", "")
    assert signer.startswith("^${{github.server_url}}/${{github.repository}}/") and signer.endswith(
        r"/\.github/workflows/deploy\.yml@refs/heads/main$")
    # Every run that takes an environment's deploy lock says who holds it.
    for job, function in ((dev, "deploy"), (prd, "promote"), (rollback, "rollback")):
        assert last(job, function)["--actor"] == "$ACTOR"
    # The values the calls expand come from env:, set from the event.
    step_env = {
        k: v for step in dev["steps"] + prd["steps"] + rollback["steps"] for k, v in step.get("env", {}).items()
    }
    assert step_env["BRANCH"].replace(" ", "") == "${{github.ref_name}}"
    assert step_env["VERSION"].replace(" ", "") == "${{github.ref_name}}"
    assert step_env["COMMIT"].replace(" ", "") == "${{github.sha}}"
    assert step_env["TARGET_ENV"].replace(" ", "") == "${{inputs.env}}"
    assert step_env["BREAK_LOCK"].replace(" ", "") == "${{inputs.break_lock}}"
    assert "${{ github.actor }}" in step_env["ACTOR"]


def test_role_sessions_and_job_timeouts_outlast_the_rollouts_worst_case():
    """A deploy, a rollback or a promote can wait (time out, roll back, put back) for as long as the environment's
    settings allow; its AWS role session and its job must last at least that long."""
    share = jobs(DEPLOY)["share"]
    session = next(step["with"] for step in share["steps"] if action(step) == AWS_CREDENTIALS)
    assert int(session["role-duration-seconds"]) >= share["timeout-minutes"] * 60, "share: the role session ends first"
    for name, job in rolling_out(DEPLOY).items():
        environments = ["dev", "prd"] if "inputs.env" in job["environment"] else [job["environment"].split()[0]]
        worst = max(harness_settings(env).worst_case_minutes for env in environments)
        session = next(step["with"] for step in job["steps"] if action(step) == AWS_CREDENTIALS)
        assert int(session["role-duration-seconds"]) >= worst * 60, f"{name}: the role session ends first"
        assert job["timeout-minutes"] >= worst, f"{name}: the job times out before the rollouts do"
        assert int(session["role-duration-seconds"]) <= 12 * 3600, f"{name}: AWS allows role sessions up to 12 h"


def test_deploy_concurrency_is_per_environment_and_never_cancels():
    data = load(DEPLOY)
    assert data.get("concurrency", {}).get("cancel-in-progress", False) is False
    groups = {}
    for name, job in rolling_out(DEPLOY).items():
        concurrency = job.get("concurrency")
        assert isinstance(concurrency, dict), f"deploy job {name} needs a concurrency group"
        assert concurrency.get("cancel-in-progress") is False, f"deploy job {name} must never cancel a running deploy"
        groups[name] = concurrency["group"].replace(" ", "")
    assert groups == {"dev": "deploy-dev", "prd": "deploy-prd", "rollback": "deploy-${{inputs.env}}"}


def test_every_deploy_job_writes_its_summary_even_when_the_deploy_fails():
    scripts = {name: job["steps"][-1].get("run") for name, job in rolling_out(DEPLOY).items()}
    assert len(set(scripts.values())) == 1, "the summary steps should be one script, copied (no YAML anchors)"
    for name, job in rolling_out(DEPLOY).items():
        summary = job["steps"][-1]
        assert "GITHUB_STEP_SUMMARY" in summary["run"], name
        assert summary["if"].replace(" ", "") == "${{!cancelled()}}", name
        assert summary["env"]["RESULT"].replace(" ", "") == "${{steps.deploy.outputs.output}}", name
        assert any(step.get("id") == "deploy" and action(step) == DAGGER for step in job["steps"]), name


def run_summary_step(tmp_path: Path, result: str) -> str:
    script = jobs(DEPLOY)["dev"]["steps"][-1]["run"]
    summary = tmp_path / "summary.md"
    env = {"PATH": os.environ["PATH"], "TITLE": "Deploy to dev", "RESULT": result, "GITHUB_STEP_SUMMARY": str(summary)}
    subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env, check=True)
    return summary.read_text()


def test_the_summary_step_publishes_the_modules_markdown_or_says_why_there_is_none(tmp_path):
    deploys = [functions["deploy"] for job in jobs(DEPLOY).values() for functions in dagger_chains(job)
               if "deploy" in functions]
    assert deploys and all(flags.get("--format") == "markdown" for flags in deploys)
    table = "| service | result |\n| --- | --- |\n| frontend | succeeded |"
    assert table in run_summary_step(tmp_path, table)
    assert "ended before printing a summary" in run_summary_step(tmp_path, "")


# --------------------------------------------------------------------------- the linters


def tool(path: Path, name: str) -> Path:
    if not path.is_file():
        pytest.fail(f"{name} is not installed at {path}: run scripts/lint-tools (then rerun the tests)")
    return path


def run_actionlint(*files: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # shellcheck
    return subprocess.run(
        [str(tool(ACTIONLINT, "actionlint")), "-no-color", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def run_zizmor(*files: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN", "ZIZMOR_GITHUB_TOKEN")}
    return subprocess.run(
        [
            str(tool(VENV_BIN / "zizmor", "zizmor")),
            "--offline",
            "--strict-collection",
            "--no-progress",
            "--color",
            "never",
        ]
        + [str(f) for f in files],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
    )


def test_actionlint_reports_nothing():
    result = run_actionlint(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_zizmor_reports_nothing():
    result = run_zizmor(*WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " WARN " not in result.stderr, result.stderr  # e.g. YAML anchors, which zizmor only partly follows


def test_the_linters_do_catch_a_broken_copy(tmp_path):
    """Guards against a linter silently checking nothing: a mutated copy must be flagged."""
    broken = tmp_path / "deploy.yml"
    text = DEPLOY.read_text()
    text = re.sub(r"actions/checkout@[0-9a-f]{40}", "actions/checkout@v7", text, count=1)  # unpinned
    text = text.replace('echo "### $TITLE"', 'echo "### ${{ github.head_ref }}"', 1)  # template injection
    broken.write_text(text)
    zizmor = run_zizmor(broken)
    assert zizmor.returncode != 0
    assert "unpinned-uses" in zizmor.stdout and "template-injection" in zizmor.stdout, zizmor.stdout

    bad_shell = tmp_path / "shell.yml"
    bad_shell.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo $FOO\n")
    actionlint = run_actionlint(bad_shell)
    assert actionlint.returncode != 0 and "SC2086" in actionlint.stdout, actionlint.stdout
