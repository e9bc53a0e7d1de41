"""The AWS side of Dojangkok as production has it (§3, §6), created through boto3 against the local emulator:
VPC with public subnets (ALB) and private subnets (one pair per service), a launch template and a blue Auto Scaling
group per service, an ALB with a listener and target groups per service, the revisions bucket, and a CodeDeploy
application with one Blue/Green deployment group per service.

Names follow deploy/environments.toml (`dojangkok-dev-frontend-bg`, `...-asg`, `...-tg`, `dojangkok-dev-codedeploy-
bundles`), so `provision(endpoint, env="dev")` is what the pipeline's dev settings expect.

Two traffic layouts: "pair" (default) gives each service a blue/green target group pair behind its listener and
CodeDeploy switches the listener; "single" is one target group whose members CodeDeploy swaps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3

ACCOUNT = "123456789012"  # moto's account
REGION = "ap-northeast-2"  # Seoul, as production
AZS = ("a", "c")  # Seoul has a/b/c/d; production uses a and c
GOLD_IMAGE = "ami-0d0a9c0c0ffee0001"  # the one gold image with Docker (§2); moto launches any id


@dataclass(frozen=True)
class ServiceInfra:
    service: str
    port: int
    health_path: str
    deployment_group: str
    blue_asg: str
    blue_target_group: str  # ARN
    green_target_group: str  # ARN; "" in the single-target-group layout
    listener: str  # ARN


@dataclass(frozen=True)
class Infra:
    region: str
    application: str
    bucket: str
    vpc: str
    load_balancer: str
    services: dict[str, ServiceInfra] = field(default_factory=dict)


def ecr_image(service: str, fill: str, region: str = REGION) -> str:
    """A made-up ECR reference by digest (`fill` 64 times over), as `publish` hands it to deploys."""
    return f"{ACCOUNT}.dkr.ecr.{region}.amazonaws.com/dojangkok/{service}@sha256:{fill * 64}"


# (service, port, health path, listener port): the catalogue's AWS Blue/Green services
DEFAULT_SERVICES = (("frontend", 3000, "/api/health", 80), ("backend", 8080, "/actuator/health", 8080))


def blue_green_group_settings(asg: str, blue_tg: str, green_tg: str, listener: str, *, wait_minutes: int = 5) -> dict:
    """The deployment group settings the pipeline requires (and refuses to deploy without); no green_tg: one group."""
    return {
        "deploymentConfigName": "CodeDeployDefault.AllAtOnce",
        "autoScalingGroups": [asg],
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "blueGreenDeploymentConfiguration": {
            "terminateBlueInstancesOnDeploymentSuccess": {
                "action": "TERMINATE",
                "terminationWaitTimeInMinutes": wait_minutes,
            },
            "deploymentReadyOption": {"actionOnTimeout": "CONTINUE_DEPLOYMENT"},
            "greenFleetProvisioningOption": {"action": "COPY_AUTO_SCALING_GROUP"},
        },
        "loadBalancerInfo": (
            {
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": blue_tg}, {"name": green_tg}],
                        "prodTrafficRoute": {"listenerArns": [listener]},
                    }
                ]
            }
            if green_tg
            else {"targetGroupInfoList": [{"name": blue_tg}]}
        ),
        "autoRollbackConfiguration": {"enabled": True, "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"]},
    }


def provision(
    endpoint_url: str,
    *,
    region: str = REGION,
    env: str = "dev",
    services: tuple[tuple[str, int, str, int], ...] = DEFAULT_SERVICES,
    instances: int = 2,
    wait_minutes: int = 5,
    layout: str = "pair",
    session: boto3.Session | None = None,
) -> Infra:
    """Create the infrastructure in the emulator and say where everything is.

    Pass a long-lived `session` when provisioning repeatedly: botocore loads each service model once per session.
    """
    session = session or boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator")  # noqa: S106

    def client(name: str) -> Any:
        return session.client(name, region_name=region, endpoint_url=endpoint_url)

    ec2, autoscaling, elbv2 = client("ec2"), client("autoscaling"), client("elbv2")
    s3, codedeploy = client("s3"), client("codedeploy")
    prefix = f"dojangkok-{env}"

    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    public = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")["Subnet"][
            "SubnetId"
        ]
        for i, az in enumerate(AZS)
    ]
    image = GOLD_IMAGE
    balancer = elbv2.create_load_balancer(Name=prefix, Subnets=public, Scheme="internet-facing", Type="application")
    balancer_arn = balancer["LoadBalancers"][0]["LoadBalancerArn"]

    if layout not in ("pair", "single"):
        raise ValueError(f"layout must be 'pair' or 'single', got {layout!r}")
    longest = max(len(f"{prefix}-{name}-tg-green") for name, *_ in services)
    if longest > 32:
        raise ValueError(f"env {env!r} is too long: ELB target group names stop at 32 characters ({longest} needed)")
    bucket = f"{prefix}-codedeploy-bundles"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    codedeploy.create_application(applicationName=prefix, computePlatform="Server")

    made: dict[str, ServiceInfra] = {}
    for index, (name, port, health_path, listener_port) in enumerate(services, start=1):
        private = [
            ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{10 * index + i}.0/24", AvailabilityZone=f"{region}{az}")[
                "Subnet"
            ]["SubnetId"]
            for i, az in enumerate(AZS)
        ]
        template = ec2.create_launch_template(
            LaunchTemplateName=f"{prefix}-{name}",
            LaunchTemplateData={"ImageId": image, "InstanceType": "m7g.medium"},
        )["LaunchTemplate"]["LaunchTemplateId"]
        target_groups = [
            elbv2.create_target_group(
                Name=f"{prefix}-{name}-{suffix}",
                Protocol="HTTP",
                Port=port,
                VpcId=vpc,
                TargetType="instance",
                HealthCheckPath=health_path,
            )["TargetGroups"][0]
            for suffix in (("tg", "tg-green") if layout == "pair" else ("tg",))
        ]
        blue_tg = target_groups[0]["TargetGroupArn"]
        green_tg = target_groups[1]["TargetGroupArn"] if layout == "pair" else ""
        listener = elbv2.create_listener(
            LoadBalancerArn=balancer_arn,
            Protocol="HTTP",
            Port=listener_port,
            DefaultActions=[{"Type": "forward", "TargetGroupArn": blue_tg}],
        )["Listeners"][0]["ListenerArn"]
        asg = f"{prefix}-{name}-asg"
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=asg,
            LaunchTemplate={"LaunchTemplateId": template, "Version": "$Latest"},
            MinSize=instances,
            MaxSize=instances * 2,
            DesiredCapacity=instances,
            VPCZoneIdentifier=",".join(private),
            TargetGroupARNs=[blue_tg],
            HealthCheckType="ELB",
            Tags=[{"Key": "Service", "Value": name, "PropagateAtLaunch": True}],
        )
        group = f"{prefix}-{name}-bg"
        codedeploy.create_deployment_group(
            applicationName=prefix,
            deploymentGroupName=group,
            serviceRoleArn=f"arn:aws:iam::{ACCOUNT}:role/{prefix}-codedeploy",
            **blue_green_group_settings(
                asg,
                target_groups[0]["TargetGroupName"],
                target_groups[1]["TargetGroupName"] if layout == "pair" else "",
                listener,
                wait_minutes=wait_minutes,
            ),
        )
        made[name] = ServiceInfra(name, port, health_path, group, asg, blue_tg, green_tg, listener)
    return Infra(region, prefix, bucket, vpc, balancer_arn, made)
