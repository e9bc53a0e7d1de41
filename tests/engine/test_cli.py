"""The module as a user meets it: the released CLI loading it through the engine's builtin Python SDK runtime."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
from dojangkok import catalogue
from dojangkok_local import ROOT
from dojangkok_local.engine.cli import call, dagger

pytestmark = pytest.mark.engine

FUNCTIONS = ("build", "deploy", "dora", "history", "plan", "promote", "publish", "reject", "rollback", "sbom", "test",
             "with-aws", "with-gcp", "with-registry", "with-signing")


def test_the_cli_is_the_release_the_module_names(engine_env):
    version = subprocess.run(["dagger", "version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("dagger v0.21.8 ")
    assert json.loads((ROOT / "dagger.json").read_text())["engineVersion"] == version.split()[1]


def test_functions_lists_every_function_with_its_doc(engine_env):
    listing = dagger("functions").stdout
    described = dict(re.findall(r"^(\S+)\s+(.+)$", listing, re.MULTILINE))
    for name in FUNCTIONS:
        assert name in described, f"{name} missing from `dagger functions`:\n{listing}"
        assert described[name] != "-", f"{name} has no doc"


def test_plan_prints_tables_and_touches_nothing(engine_env):
    text = call("plan", "--env", "prd", "--version", "v1.0.2", "--commit", "a1b2c3d")
    assert "Deploy plan for prd (nothing was built, pushed or deployed)" in text
    for svc in catalogue.BUILT:
        assert f"{svc.name}:" in text
    assert "prod-v1.0.2-a1b2c3d, then latest" in text


def test_plan_json_is_only_the_result_on_stdout(engine_env):
    out = call("plan", "--env", "prd", "--version", "v1.0.2", "--commit", "a1b2c3d", "--format", "json")
    piped = subprocess.run(["jq", "-c", "[.services[] | {service, image, platforms, accelerator}]"], input=out,
                           capture_output=True, text=True, check=True)
    services = {s["service"]: s for s in json.loads(piped.stdout)}
    assert services["frontend"]["image"].endswith("/dojangkok/frontend:prod-v1.0.2-a1b2c3d")
    assert services["ai-server"]["image"].startswith("asia-northeast3-docker.pkg.dev/dojangkok-prd/")
    # Where the seed contradicts the clouds, the plan shows what the clouds offer (dojangkok/machines.py).
    assert services["ai-server"]["platforms"] == ["linux/arm64", "linux/amd64"]
    assert services["vllm"]["accelerator"] == "nvidia-l4"


def test_settings_are_overridden_by_the_modules_own_argument(engine_env):
    out = call("--override", "DOJANGKOK_PRD_GCP_ZONE=asia-northeast3-c",
               "plan", "--env", "prd", "--version", "v1.0.2", "--commit", "a1b2c3d", "--format", "json")
    zones = {s["target_details"].get("zone") for s in json.loads(out)["services"] if s["cloud"] == "gcp"}
    assert zones == {"asia-northeast3-c"}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["plan", "--env", "staging"], 'invalid argument "staging" for "--env"'),
        (["plan", "--env", "prd", "--version", "1.0.2", "--commit", "a1b2c3d"], "version"),
        (["plan", "--env", "dev", "--branch", "main", "--service", "payments"], "unknown service 'payments'"),
        (["--override", "DOJANGKOK_DEV_AWS_REGON=x", "plan", "--env", "dev", "--branch", "main"],
         "did you mean DOJANGKOK_DEV_AWS_REGION"),
        (["plan", "--env", "dev", "--branch", "///"], "branch"),
    ],
)
def test_bad_input_exits_non_zero_with_the_modules_message(engine_env, arguments, message):
    result = dagger("call", *arguments, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert result.stdout.strip() == ""
