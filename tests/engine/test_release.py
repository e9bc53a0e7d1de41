"""deploy and rollback through the module, end to end: engine build, local registry, emulated AWS and GCP.

The same path as production; only the registry (local) and the cloud endpoints (moto + our CodeDeploy front,
the GCP fake) differ.
"""

from __future__ import annotations

import json

import pytest
from dagger import dag
from dojangkok.credentials import CredentialsError
from dojangkok.environments import Environment, load
from dojangkok.main import Dojangkok
from dojangkok.plan import OutputFormat
from dojangkok.release import ReleaseFailed
from dojangkok_local import engine
from dojangkok_local.aws import EmulatorControl, aws_emulator
from dojangkok_local.aws_infra import provision
from dojangkok_local.gcp import running as gcp_fake
from dojangkok_local.gcp_seed import seed_environment
from engine_support import source_copy

pytestmark = pytest.mark.engine

SERVICES = ["frontend", "ai-server"]  # one per cloud keeps the tier fast; the drivers' own tiers cover the rest


@pytest.fixture
def clouds():
    with aws_emulator(step_seconds=0.05, minute_seconds=0.05) as aws, gcp_fake() as gcp:
        aws.reset()  # moto keeps its state per process: start every test from empty clouds
        provision(aws.endpoint, env="dev")
        seed_environment(gcp.endpoint, "dev")
        gcp.settle()
        aws.reset_calls()
        gcp.reset_calls()
        yield aws, gcp


def arguments(aws, gcp, **extra) -> dict:
    return {
        "env": Environment.dev,
        "service": SERVICES,
        "aws_access_key_id": dag.set_secret("emulator-id", "emulator"),
        "aws_secret_access_key": dag.set_secret("emulator-key", "emulator"),
        "aws_endpoint_url": aws.endpoint,
        "gcp_endpoint": gcp.endpoint,
        # The emulators finish in seconds; poll as often as the setting allows (same code path as production).
        "override": ["DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS=1"],
        **extra,
    }


def deploy_args(aws, gcp, base, **extra) -> dict:
    defaults = {"branch": "main", "platform": ["linux/amd64"], "base": base, "registry": engine.registry()}
    return arguments(aws, gcp, **{**defaults, **extra})


async def test_deploy_rolls_out_both_clouds_by_digest(pipeline, base, clouds, registry_api):
    aws, gcp = clouds
    report = await pipeline.deploy(**deploy_args(aws, gcp, base, format=OutputFormat.json))
    results = {r["service"]: r for r in json.loads(report)}
    assert set(results) == set(SERVICES)
    for name, result in results.items():
        assert result["outcome"] == "succeeded", result
        repository, _, digest = result["image"].partition("@")
        assert repository == f"{engine.registry()}/dojangkok/{name}"
        assert registry_api.manifest(f"dojangkok/{name}", "latest")[0] == digest
    assert "blue-green" in results["frontend"]["strategy"]
    assert "rolling" in results["ai-server"]["strategy"]
    operations = {c.get("operation") for c in aws.calls()}
    assert "CreateDeployment" in operations


async def test_unhealthy_green_rolls_back_and_the_run_fails(pipeline, base, clouds):
    aws, gcp = clouds
    settings = load("dev").aws
    EmulatorControl(aws.endpoint).set_green_health(
        settings.codedeploy_application, settings.groups["frontend"].deployment_group, "unhealthy"
    )
    with pytest.raises(ReleaseFailed) as failed:
        await pipeline.deploy(**deploy_args(aws, gcp, base))
    summary = str(failed.value)
    assert "frontend" in summary and "rolled-back" in summary
    assert "ai-server" in summary and "succeeded" in summary


async def test_rollback_returns_to_the_previous_release(pipeline, base, clouds, tmp_path):
    aws, gcp = clouds
    first = json.loads(await pipeline.deploy(**deploy_args(aws, gcp, base, format=OutputFormat.json)))
    # A second release with changed sources, so both clouds have something to go back from.
    copy = source_copy(tmp_path, *SERVICES)
    for path in (copy / "services/frontend/app/page.jsx", copy / "services/ai-server/main.py"):
        path.write_text(path.read_text() + ("\n// release 2\n" if path.suffix == ".jsx" else "\n# release 2\n"))
    second = Dojangkok(source=dag.host().directory(str(copy)))
    await second.deploy(**deploy_args(aws, gcp, base, branch="release-2"))

    report = json.loads(await pipeline.rollback(**arguments(aws, gcp, format=OutputFormat.json)))
    assert {r["outcome"] for r in report} == {"succeeded"}
    first_images = {r["service"]: r["image"] for r in first}
    for result in report:
        assert result["previous"] != result["new"]
        assert first_images[result["service"]].split("@")[1][7:19] in json.dumps(result), result


async def test_missing_credentials_fail_before_any_build_push_or_cloud_call(pipeline, base, clouds, registry_api):
    aws, gcp = clouds
    before = registry_api.catalog()
    args = deploy_args(aws, gcp, base)
    del args["aws_access_key_id"], args["aws_secret_access_key"]
    with pytest.raises(CredentialsError, match="--aws-access-key-id"):
        await pipeline.deploy(**args)
    assert aws.calls() == [] and gcp.calls() == []
    assert registry_api.catalog() == before
