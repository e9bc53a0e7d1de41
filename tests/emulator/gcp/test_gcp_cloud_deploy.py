"""CloudDeploy (release + rollout) against the GCP fake, through the real google-cloud-deploy REST client."""

from __future__ import annotations

from collections import Counter

import pytest
from dojangkok.deploy import DeployError, Outcome
from dojangkok_local import planned_calls
from dojangkok_local.gcp.seed import PIPELINE, PROJECT, REGION, TARGET
from dojangkok_local.gcp.seed import release_image as image
from google.cloud import deploy_v1

pytestmark = pytest.mark.emulator

PIPELINE_PATH = f"projects/{PROJECT}/locations/{REGION}/deliveryPipelines/{PIPELINE}"


def rollouts(clients, release: str) -> list:
    return list(clients.deploy.list_rollouts(parent=release))


def test_release_and_rollout_succeed(gcp, clients, cloud_deploy, pipeline):
    result = cloud_deploy().deploy("ai-server", image("ai-server", 2))

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.previous == pipeline
    assert result.new == f"{PIPELINE_PATH}/releases/ai-server-{image('ai-server', 2).rsplit(':', 1)[1][:12]}"
    assert result.api_calls == dict(Counter(c["api"] for c in gcp.calls()))
    release = clients.deploy.get_release(name=result.new)
    assert [(a.image, a.tag) for a in release.build_artifacts] == [("ai-server", image("ai-server", 2))]
    assert [(r.target_id, r.state) for r in rollouts(clients, result.new)] == [
        (TARGET, deploy_v1.Rollout.State.SUCCEEDED)]


def test_dagger_plan_names_the_calls_a_deploy_makes(gcp, cloud_deploy, pipeline):
    result = cloud_deploy().deploy("ai-server", image("ai-server", 2))

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    made = dict.fromkeys(c["api"] for c in gcp.calls())  # first-use order
    assert planned_calls("ai-server", environ={"DOJANGKOK_DEV_GCP_DELIVERY_PIPELINE": PIPELINE}) == list(made)


def test_failed_rollout_rolls_the_target_back(gcp, clients, cloud_deploy, pipeline):
    gcp.mark_unhealthy(image=image("ai-server", 2))

    result = cloud_deploy().deploy("ai-server", image("ai-server", 2))

    assert result.outcome is Outcome.ROLLED_BACK, result.detail
    assert "FAILED" in result.detail and "health" in result.detail
    assert [r.state for r in rollouts(clients, result.new)] == [deploy_v1.Rollout.State.FAILED]
    back = [r for r in rollouts(clients, pipeline) if r.rollback_of_rollout]
    assert [r.state for r in back] == [deploy_v1.Rollout.State.SUCCEEDED]  # release 1 rolled out again


def test_failed_first_rollout_has_nothing_to_roll_back_to(gcp, clients, cloud_deploy):
    parent = f"projects/{PROJECT}/locations/{REGION}"
    clients.deploy.create_target(parent=parent, target_id=TARGET, target=deploy_v1.Target()).result()
    clients.deploy.create_delivery_pipeline(parent=parent, delivery_pipeline_id=PIPELINE,
                                            delivery_pipeline={"serial_pipeline": {"stages": [{"target_id": TARGET}]}}
                                            ).result()
    gcp.mark_unhealthy(image=image("vllm", 1))
    result = cloud_deploy().deploy("vllm", image("vllm", 1))
    assert result.outcome is Outcome.FAILED
    assert "no earlier release" in result.detail


def test_rollback_target_returns_to_the_previous_release(gcp, clients, cloud_deploy, pipeline):
    deployed = cloud_deploy().deploy("ai-server", image("ai-server", 2))
    assert deployed.outcome is Outcome.SUCCEEDED, deployed.detail

    result = cloud_deploy().rollback("ai-server")

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert (result.previous, result.new) == (deployed.new, pipeline)
    assert result.image == image("ai-server", 1)


def test_rollout_that_never_finishes_times_out_and_rolls_back(gcp, clients, clock, cloud_deploy, pipeline):
    gcp.fake.deploy.rollout_reads = 10_000  # stuck IN_PROGRESS
    result = cloud_deploy(timeout=600).deploy("ai-server", image("ai-server", 2))
    assert result.outcome is Outcome.FAILED  # the rollback rollout is stuck too: a person must look
    assert "did not finish within 600s" in result.detail
    assert clock.now >= 1200
    assert result.api_calls["clouddeploy.rollouts.cancel"] == 1  # the stuck rollout was stopped first
    assert [r.state for r in rollouts(clients, result.new)] == [deploy_v1.Rollout.State.CANCELLED]


@pytest.mark.parametrize(
    ("service", "ref", "settings", "message"),
    [
        ("nope", image("ai-server", 2), {}, "unknown service"),
        ("backend", image("ai-server", 2), {}, "not by a GCP rolling update"),
        ("ai-server", "europe-docker.pkg.dev/p/r/ai-server:prod-v1.0.2-a1b2c3d", {}, "not a reference by digest"),
        ("ai-server", image("ai-server", 2), {"target": "Prd!"}, "target id"),
        ("ai-server", image("ai-server", 2), {"project": ""}, "no GCP project"),
    ],
)
def test_bad_input_fails_before_any_api_call(gcp, cloud_deploy, pipeline, service, ref, settings, message):
    driver = cloud_deploy(**settings)
    with pytest.raises(DeployError, match=message):
        driver.deploy(service, ref)
    with pytest.raises(DeployError, match=message):
        driver.plan(service, ref)
    assert gcp.calls() == []


def test_missing_pipeline_is_a_clear_error(gcp, cloud_deploy):
    with pytest.raises(DeployError, match="does not exist"):
        cloud_deploy().deploy("ai-server", image("ai-server", 2))
    assert [c["api"] for c in gcp.calls()] == ["clouddeploy.deliveryPipelines.get"]


def test_history_follows_rollbacks_and_stays_per_service(gcp, clients, cloud_deploy, pipeline):
    driver = cloud_deploy()
    vllm1 = driver.deploy("vllm", image("vllm", 1))  # the same target carries vllm too
    ai2 = driver.deploy("ai-server", image("ai-server", 2))
    assert (vllm1.outcome, ai2.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert ai2.previous == pipeline  # ai-server's own previous release, not vllm's

    back = driver.rollback("ai-server")
    assert (back.previous, back.new) == (ai2.new, pipeline)

    ai3 = driver.deploy("ai-server", image("ai-server", 3))
    assert ai3.previous == pipeline  # what runs after the rollback, not the rolled-back release

    with pytest.raises(DeployError, match="no earlier successful release"):
        driver.rollback("vllm")
