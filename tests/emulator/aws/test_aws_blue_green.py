"""CodeDeploy Blue/Green through the real boto3 wire protocol against the local emulator (moto + our CodeDeploy)."""

from __future__ import annotations

import threading
from collections import Counter

import boto3
import pytest
from dojangkok.deploy import DeployError, Outcome
from dojangkok.deploy.blue_green import AwsClients, Backoff, BlueGreen, aws_clients
from dojangkok_local import BUNDLE_DIR, planned_calls
from dojangkok_local.aws.infra import REGION, Infra
from dojangkok_local.aws.infra import ecr_image as image
from dojangkok_local.emulator_common import FakeClock

pytestmark = pytest.mark.emulator


def serving(clients: AwsClients, listener: str) -> str:
    """The target group the ALB listener forwards production traffic to."""
    actions = clients.elbv2.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
    return actions[0]["TargetGroupArn"]


def asg_names(clients: AwsClients) -> set[str]:
    groups = clients.autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    return {g["AutoScalingGroupName"] for g in groups}


def fleet(clients: AwsClients, asg: str) -> set[str]:
    groups = clients.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg])["AutoScalingGroups"]
    return {i["InstanceId"] for g in groups for i in g["Instances"]}


def healthy(clients: AwsClients, target_group: str) -> set[str]:
    health = clients.elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    return {t["Target"]["Id"] for t in health if t["TargetHealth"]["State"] == "healthy"}


def group_asgs(clients: AwsClients, infra: Infra, service: str) -> list[str]:
    info = clients.codedeploy.get_deployment_group(
        applicationName=infra.application, deploymentGroupName=infra.services[service].deployment_group
    )["deploymentGroupInfo"]
    return [g["name"] for g in info["autoScalingGroups"]]


def lifecycle(clients: AwsClients, deployment_id: str) -> dict[str, list[tuple[str, str]]]:
    """Lifecycle events per green instance, as the CodeDeploy console shows them."""
    targets = clients.codedeploy.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    found = clients.codedeploy.batch_get_deployment_targets(deploymentId=deployment_id, targetIds=targets)
    return {
        t["instanceTarget"]["targetId"]: [
            (e["lifecycleEventName"], e["status"]) for e in t["instanceTarget"]["lifecycleEvents"]
        ]
        for t in found["deploymentTargets"]
    }


def deploy(driver: BlueGreen, infra: Infra, service: str, fill: str):
    return driver.deploy(
        service,
        image(service, fill),
        application=infra.application,
        deployment_group=infra.services[service].deployment_group,
    )


def test_green_serves_and_blue_is_terminated(driver, clients, infra, control):
    fe = infra.services["frontend"]
    blue_instances = fleet(clients, fe.blue_asg)
    assert serving(clients, fe.listener) == fe.blue_target_group

    control.reset_calls()
    result = deploy(driver, infra, "frontend", "a")
    wire = Counter(f"{c['service']}.{c['operation']}" for c in control.calls())

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.previous == ""
    assert result.new.startswith(f"s3://{infra.bucket}/revisions/frontend/aaaaaaaaaaaa-")
    # Traffic moved to the green target group, whose targets are the copied fleet.
    assert serving(clients, fe.listener) == fe.green_target_group
    (green_asg,) = group_asgs(clients, infra, "frontend")
    assert green_asg.startswith(f"CodeDeploy_{fe.deployment_group}_d-")
    assert f"{green_asg} serves" in result.detail
    green_instances = fleet(clients, green_asg)
    assert len(green_instances) == len(blue_instances) == 2
    # Every green instance ran the revision's hooks, in CodeDeploy's order, before traffic was allowed.
    deployment_id = result.detail.split()[0]
    events = lifecycle(clients, deployment_id)
    assert set(events) == green_instances
    for ran in events.values():
        names = [name for name, _ in ran]
        assert [n for n in names if n in ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")] == [
            "BeforeInstall",
            "AfterInstall",
            "ApplicationStart",
            "ValidateService",
        ]
        assert names.index("ValidateService") < names.index("AllowTraffic")
        assert {status for _, status in ran} == {"Succeeded"}
    assert healthy(clients, fe.green_target_group) == green_instances
    # Blue was terminated after the wait and left its target group.
    assert fe.blue_asg not in asg_names(clients)
    assert healthy(clients, fe.blue_target_group) == set()
    # The backend was not touched.
    assert serving(clients, infra.services["backend"].listener) == infra.services["backend"].blue_target_group

    # The driver's own count matches what crossed the wire, and it is only the calls a deploy needs.
    assert wire == Counter(result.api_calls)
    assert result.api_calls["codedeploy.GetDeploymentGroup"] == 1
    assert result.api_calls["s3.PutObject"] == 1
    assert result.api_calls["codedeploy.CreateDeployment"] == 1
    assert result.api_calls["codedeploy.GetDeployment"] >= 1
    assert set(result.api_calls) == {
        "codedeploy.GetDeploymentGroup",
        "s3.PutObject",
        "codedeploy.CreateDeployment",
        "codedeploy.GetDeployment",
    }


def test_second_release_flips_back_to_the_first_target_group(driver, clients, infra):
    fe = infra.services["frontend"]
    first = deploy(driver, infra, "frontend", "a")
    second = deploy(driver, infra, "frontend", "b")

    assert second.outcome is Outcome.SUCCEEDED, second.detail
    assert second.previous == first.new
    assert serving(clients, fe.listener) == fe.blue_target_group
    (current,) = group_asgs(clients, infra, "frontend")
    assert healthy(clients, fe.blue_target_group) == fleet(clients, current)
    assert healthy(clients, fe.green_target_group) == set()


def test_unhealthy_green_fails_rolls_back_and_keeps_traffic_on_blue(driver, clients, infra, control):
    fe = infra.services["frontend"]
    good = deploy(driver, infra, "frontend", "a")
    assert good.outcome is Outcome.SUCCEEDED
    live_asg = group_asgs(clients, infra, "frontend")
    live_tg = serving(clients, fe.listener)
    before = asg_names(clients)

    control.set_green_health(infra.application, fe.deployment_group, "unhealthy")
    result = deploy(driver, infra, "frontend", "b")

    assert result.outcome is Outcome.ROLLED_BACK
    assert "HEALTH_CONSTRAINTS" in result.detail
    assert "/api/health" in result.detail  # the emulator read the health path from the bundle's release.env
    assert result.new == good.new == result.previous
    assert serving(clients, fe.listener) == live_tg
    assert group_asgs(clients, infra, "frontend") == live_asg
    assert asg_names(clients) == before  # green removed, blue kept
    assert healthy(clients, fe.blue_target_group) == set()  # nothing left in the idle target group

    failed = clients.codedeploy.list_deployments(
        applicationName=infra.application, deploymentGroupName=fe.deployment_group, includeOnlyStatuses=["Failed"]
    )["deployments"]
    info = clients.codedeploy.get_deployment(deploymentId=failed[0])["deploymentInfo"]
    assert info["status"] == "Failed"
    assert info["rollbackInfo"]["rollbackDeploymentId"]
    for ran in lifecycle(clients, failed[0]).values():
        assert ran[-1] == ("ValidateService", "Failed")  # and AllowTraffic never ran


def test_first_release_unhealthy_leaves_the_original_fleet_serving(driver, clients, infra, control):
    fe = infra.services["frontend"]
    control.set_green_health(infra.application, fe.deployment_group, "unhealthy")

    result = deploy(driver, infra, "frontend", "a")

    assert result.outcome is Outcome.ROLLED_BACK, result.detail
    assert result.new == result.previous == ""
    assert serving(clients, fe.listener) == fe.blue_target_group
    assert group_asgs(clients, infra, "frontend") == [fe.blue_asg]
    assert healthy(clients, fe.blue_target_group) == fleet(clients, fe.blue_asg)
    assert not any(name.startswith(f"CodeDeploy_{fe.deployment_group}") for name in asg_names(clients))


def test_timeout_stops_the_deployment_with_rollback(driver, clients, infra, control):
    fe = infra.services["frontend"]
    assert deploy(driver, infra, "frontend", "a").outcome is Outcome.SUCCEEDED
    clock = FakeClock(pause=0.02)  # a real pause too, so the emulator's deployment threads move on
    driver = BlueGreen(
        clients,
        bucket=infra.bucket,
        timeout=120,
        stop_timeout=3600,
        backoff=Backoff(5, 2, 30),
        sleep=clock.sleep,
        clock=clock,
        bundle_dir=BUNDLE_DIR,
    )
    live_tg = serving(clients, fe.listener)
    before = asg_names(clients)
    control.set_green_health(infra.application, fe.deployment_group, "hang")
    control.reset_calls()

    result = deploy(driver, infra, "frontend", "b")

    assert result.outcome is Outcome.ROLLED_BACK, result.detail
    assert "timed out after 120s" in result.detail
    assert result.api_calls["codedeploy.StopDeployment"] == 1
    stops = [c for c in control.calls() if c["operation"] == "StopDeployment"]
    assert len(stops) == 1
    assert serving(clients, fe.listener) == live_tg
    assert asg_names(clients) == before
    # Exponential backoff, capped, within the deadline.
    waits = clock.sleeps[: clock.sleeps.index(max(clock.sleeps)) + 1]
    assert waits[:3] == [5, 10, 20]
    assert max(clock.sleeps) <= 30
    stopped = clients.codedeploy.list_deployments(
        applicationName=infra.application, deploymentGroupName=fe.deployment_group, includeOnlyStatuses=["Stopped"]
    )["deployments"]
    assert len(stopped) == 1


def test_rollback_redeploys_the_previous_release(driver, clients, infra):
    fe = infra.services["frontend"]
    first = deploy(driver, infra, "frontend", "a")
    second = deploy(driver, infra, "frontend", "b")
    assert first.outcome is second.outcome is Outcome.SUCCEEDED

    result = driver.rollback("frontend", application=infra.application, deployment_group=fe.deployment_group)

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.previous == second.new
    assert result.new == first.new
    assert result.image == image("frontend", "a")
    assert serving(clients, fe.listener) == fe.green_target_group  # a third flip
    assert set(result.api_calls) >= {"codedeploy.ListDeployments", "codedeploy.BatchGetDeployments"}
    assert "s3.PutObject" not in result.api_calls  # the old bundle is reused as it was


def test_repeated_rollbacks_walk_back_through_releases(driver, infra):
    fe = infra.services["frontend"]
    a, b, c = (deploy(driver, infra, "frontend", fill) for fill in "abc")
    assert {a.outcome, b.outcome, c.outcome} == {Outcome.SUCCEEDED}
    rollback = {"application": infra.application, "deployment_group": fe.deployment_group}

    to_b = driver.rollback("frontend", **rollback)
    to_a = driver.rollback("frontend", **rollback)

    assert (to_b.previous, to_b.new) == (c.new, b.new)
    assert (to_a.previous, to_a.new) == (b.new, a.new)
    with pytest.raises(DeployError, match="its first release"):
        driver.rollback("frontend", **rollback)


def test_rollback_without_an_earlier_release_is_refused(driver, infra):
    fe = infra.services["frontend"]
    with pytest.raises(DeployError, match="nothing to roll back to"):
        driver.rollback("frontend", application=infra.application, deployment_group=fe.deployment_group)
    deploy(driver, infra, "frontend", "a")
    with pytest.raises(DeployError, match="no earlier release"):
        driver.rollback("frontend", application=infra.application, deployment_group=fe.deployment_group)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"deploymentStyle": {"deploymentType": "IN_PLACE", "deploymentOption": "WITH_TRAFFIC_CONTROL"}}, "BLUE_GREEN"),
        (
            {"deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}},
            "WITH_TRAFFIC_CONTROL",
        ),
        ({"autoRollbackConfiguration": {"enabled": False}}, "automatic rollback"),
        (
            {
                "blueGreenDeploymentConfiguration": {
                    "greenFleetProvisioningOption": {"action": "DISCOVER_EXISTING"},
                    "terminateBlueInstancesOnDeploymentSuccess": {"action": "TERMINATE"},
                }
            },
            "COPY_AUTO_SCALING_GROUP",
        ),
        ({"loadBalancerInfo": {}}, "target group"),
    ],
)
def test_misconfigured_group_is_refused_before_any_deployment(driver, clients, infra, control, change, complaint):
    fe = infra.services["frontend"]
    clients.codedeploy.update_deployment_group(
        applicationName=infra.application, currentDeploymentGroupName=fe.deployment_group, **change
    )
    control.reset_calls()

    with pytest.raises(DeployError, match=complaint) as refused:
        deploy(driver, infra, "frontend", "a")

    assert "aws deploy update-deployment-group" in str(refused.value)
    assert [c["operation"] for c in control.calls()] == ["GetDeploymentGroup"]


def test_missing_group_names_the_fix(driver, infra, control):
    with pytest.raises(DeployError, match="does not exist"):
        driver.deploy("frontend", image("frontend", "a"), application=infra.application, deployment_group="nope")
    assert [c["operation"] for c in control.calls()] == ["GetDeploymentGroup"]


@pytest.mark.parametrize(
    ("service", "ref", "group", "complaint"),
    [
        ("payments", image("frontend", "a"), None, "unknown service 'payments'"),
        ("ai-server", image("ai-server", "a"), None, "not deployed with CodeDeploy Blue/Green"),
        ("frontend", "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/dojangkok/frontend:latest", None, "digest"),
        ("frontend", "dojangkok/frontend@sha256:abc", None, "digest"),
        ("frontend", image("frontend", "a"), "bad group!", "deployment group name"),
    ],
)
def test_bad_input_fails_before_any_api_call(driver, infra, control, service, ref, group, complaint):
    group = group or infra.services["frontend"].deployment_group
    with pytest.raises(DeployError, match=complaint):
        driver.deploy(service, ref, application=infra.application, deployment_group=group)
    with pytest.raises(DeployError, match=complaint):
        driver.plan(service, ref, application=infra.application, deployment_group=group)
    assert control.calls() == []


def test_plan_lists_the_calls_and_makes_none(driver, infra, control):
    fe = infra.services["frontend"]
    planned = driver.plan(
        "frontend", image("frontend", "a"), application=infra.application, deployment_group=fe.deployment_group
    )

    assert [f"{p.service}.{p.operation}" for p in planned] == [
        "codedeploy.GetDeploymentGroup",
        "codedeploy.GetDeployment",
        "s3.PutObject",
        "codedeploy.CreateDeployment",
        "codedeploy.GetDeployment",
        "codedeploy.StopDeployment",
    ]
    assert "revisions/frontend/aaaaaaaaaaaa-" in str(planned[2])
    assert control.calls() == []
    # The plan's key is the key deploy uploads to.
    result = deploy(driver, infra, "frontend", "a")
    assert result.new == f"s3://{infra.bucket}/{planned[2].body['Key']}"


def test_dagger_plan_names_the_calls_a_deploy_makes(driver, infra, control):
    deploy(driver, infra, "frontend", "a")  # a release to replace: the deploy reads what serves now
    control.reset_calls()
    result = deploy(driver, infra, "frontend", "b")

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    made = dict.fromkeys(f"{c['service']}:{c['operation']}" for c in control.calls())  # first-use order
    assert planned_calls("frontend") == list(made)


def test_frontend_and_backend_deploy_concurrently_with_separate_counts(driver, clients, infra):
    results = {}

    def run(service: str) -> None:
        results[service] = deploy(driver, infra, service, "c")

    threads = [threading.Thread(target=run, args=(s,)) for s in ("frontend", "backend")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    for service in ("frontend", "backend"):
        assert results[service].outcome is Outcome.SUCCEEDED, results[service].detail
        assert results[service].api_calls["codedeploy.CreateDeployment"] == 1
        assert results[service].api_calls["s3.PutObject"] == 1
        assert serving(clients, infra.services[service].listener) == infra.services[service].green_target_group


def test_throttling_is_retried_by_botocore_and_counted_once(driver, infra, control):
    for operation, count in (
        ("GetDeploymentGroup", 2),
        ("PutObject", 1),
        ("CreateDeployment", 1),
        ("GetDeployment", 1),
    ):
        control.throttle(operation, count)

    result = deploy(driver, infra, "frontend", "a")

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    wire = Counter(c["operation"] for c in control.calls())
    assert wire["GetDeploymentGroup"] == 3  # two throttled attempts, then the answer
    assert wire["CreateDeployment"] == 2
    assert result.api_calls["codedeploy.GetDeploymentGroup"] == 1  # one call for the driver; retries are botocore's
    assert result.api_calls["codedeploy.CreateDeployment"] == 1


def test_single_target_group_layout_moves_instances_instead_of_the_listener(driver, clients, infra):
    """Classic EC2 Blue/Green: one target group; green instances are registered and blue ones deregistered."""
    fe = infra.services["frontend"]
    blue_name = clients.elbv2.describe_target_groups(TargetGroupArns=[fe.blue_target_group])["TargetGroups"][0]
    clients.codedeploy.update_deployment_group(
        applicationName=infra.application,
        currentDeploymentGroupName=fe.deployment_group,
        loadBalancerInfo={"targetGroupInfoList": [{"name": blue_name["TargetGroupName"]}]},
    )
    blue_instances = fleet(clients, fe.blue_asg)

    result = deploy(driver, infra, "frontend", "a")

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    (green_asg,) = group_asgs(clients, infra, "frontend")
    assert serving(clients, fe.listener) == fe.blue_target_group
    assert healthy(clients, fe.blue_target_group) == fleet(clients, green_asg)
    assert not healthy(clients, fe.blue_target_group) & blue_instances
    assert fe.blue_asg not in asg_names(clients)


def test_a_running_deployment_in_the_group_is_reported_with_the_fix(driver, clients, infra, control):
    fe = infra.services["frontend"]
    control.set_green_health(infra.application, fe.deployment_group, "hang")
    first: dict = {}
    runner = threading.Thread(target=lambda: first.setdefault("result", deploy(driver, infra, "frontend", "a")))
    runner.start()
    listing = {"applicationName": infra.application, "deploymentGroupName": fe.deployment_group}
    for _ in range(200):
        running = clients.codedeploy.list_deployments(**listing, includeOnlyStatuses=["InProgress"])["deployments"]
        if running:
            break
        threading.Event().wait(0.05)

    with pytest.raises(DeployError, match="another deployment is running in this group"):
        deploy(driver, infra, "frontend", "b")

    clients.codedeploy.stop_deployment(deploymentId=running[0], autoRollbackEnabled=True)
    runner.join(30)
    assert first["result"].outcome is Outcome.ROLLED_BACK  # stopped by someone else, with rollback
    assert serving(clients, fe.listener) == fe.blue_target_group


def test_missing_bucket_names_the_setting(clients, infra, control):
    driver = BlueGreen(clients, bucket="dojangkok-nowhere", backoff=Backoff(0.02, 1.5, 0.1), bundle_dir=BUNDLE_DIR)
    with pytest.raises(DeployError, match="create the revisions bucket dojangkok-nowhere"):
        deploy(driver, infra, "frontend", "a")
    assert "CreateDeployment" not in [c["operation"] for c in control.calls()]


def test_missing_credentials_fail_before_any_call(emulator, infra, control, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance-metadata probe from a laptop or CI
    nobody = aws_clients(REGION, emulator.endpoint, session=boto3.Session())
    driver = BlueGreen(nobody, bucket=infra.bucket, bundle_dir=BUNDLE_DIR)

    with pytest.raises(DeployError, match="no AWS credentials"):
        deploy(driver, infra, "frontend", "a")
    assert control.calls() == []


def test_ready_wait_is_continued_by_the_driver(clients, infra):
    """A group that holds green at Ready until told to reroute: the pipeline validated green, so it continues."""
    fe = infra.services["frontend"]
    info = clients.codedeploy.get_deployment_group(
        applicationName=infra.application, deploymentGroupName=fe.deployment_group
    )["deploymentGroupInfo"]
    hold = info["blueGreenDeploymentConfiguration"]
    hold["deploymentReadyOption"] = {"actionOnTimeout": "STOP_DEPLOYMENT", "waitTimeInMinutes": 600}
    clients.codedeploy.update_deployment_group(
        applicationName=infra.application,
        currentDeploymentGroupName=fe.deployment_group,
        blueGreenDeploymentConfiguration=hold,
    )
    progress: list[str] = []
    driver = BlueGreen(clients, bucket=infra.bucket, backoff=Backoff(0.02, 1.5, 0.1), progress=progress.append,
                       bundle_dir=BUNDLE_DIR)

    result = deploy(driver, infra, "frontend", "a")

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.api_calls["codedeploy.ContinueDeployment"] == 1
    assert serving(clients, fe.listener) == fe.green_target_group
    statuses = [line.split()[2] for line in progress if line.startswith("frontend: d-")]
    assert "Ready" in statuses and statuses[-1] == "Succeeded"


def test_other_services_pass_through_to_moto(clients, session, emulator, control):
    """ECR and S3 are moto's, through the same front, and recorded like every call."""
    ecr = session.client("ecr", region_name=REGION, endpoint_url=emulator.endpoint)
    ecr.create_repository(repositoryName="dojangkok/frontend")
    token = ecr.get_authorization_token()["authorizationData"][0]
    assert token["authorizationToken"]
    clients.s3.create_bucket(Bucket="dojangkok-pass", CreateBucketConfiguration={"LocationConstraint": REGION})
    clients.s3.put_object(Bucket="dojangkok-pass", Key="a/b c+d.txt", Body=b"hello")
    assert clients.s3.get_object(Bucket="dojangkok-pass", Key="a/b c+d.txt")["Body"].read() == b"hello"

    calls = [(c["service"], c["operation"]) for c in control.calls()]
    assert ("ecr", "CreateRepository") in calls
    assert ("ecr", "GetAuthorizationToken") in calls
    assert ("s3", "PutObject") in calls and ("s3", "GetObject") in calls
