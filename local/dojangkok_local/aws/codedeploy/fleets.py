"""Blue and green fleets in moto's Auto Scaling and ELBv2: copy blue, move traffic between them, remove the loser."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.exceptions import ClientError

from dojangkok_local.aws.codedeploy.exceptions import DeploymentFailure


@dataclass
class Fleet:
    """Where a deployment's traffic goes: the blue group and target group now, the green ones being built."""

    blue_asgs: list[str]
    green_asg: str
    pair: bool  # a blue/green target group pair behind prod listeners (else one target group list)
    blue_tgs: list[str]
    green_tgs: list[str]
    listeners: list[str]
    switched: bool = False


class Fleets:
    """CodeDeploy's hands on the instances, groups and load balancers that moto holds."""

    def __init__(self, moto_endpoint: str, lock: threading.RLock) -> None:
        self.moto_endpoint = moto_endpoint
        self.traffic = None  # an AwsTraffic when instances really run the release behind a real load balancer
        self._lock = lock  # the service's own: one lock for its records and these clients
        self._clients: dict[tuple[str, str], Any] = {}

    def copy_blue(self, deployment: dict, blue_names: list[str]) -> Fleet:
        """Copy the blue Auto Scaling group; with a target group pair, green instances join the idle target group."""
        region = deployment["_region"]
        autoscaling = self.client("autoscaling", region)
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=blue_names[:1])["AutoScalingGroups"]
        if not found:
            raise DeploymentFailure("AUTO_SCALING_CONFIGURATION", f"Auto Scaling group {blue_names[0]} does not exist")
        blue = found[0]
        if not blue.get("Instances"):
            raise DeploymentFailure("NO_INSTANCES", f"Auto Scaling group {blue_names[0]} has no instances to copy")

        fleet = self._traffic_layout(deployment, blue)
        fleet.green_asg = f"CodeDeploy_{deployment['deploymentGroupName']}_{deployment['deploymentId']}"
        params: dict[str, Any] = {
            "AutoScalingGroupName": fleet.green_asg,
            "MinSize": blue["MinSize"],
            "MaxSize": blue["MaxSize"],
            "DesiredCapacity": blue["DesiredCapacity"],
            "VPCZoneIdentifier": blue.get("VPCZoneIdentifier", ""),
            "HealthCheckType": blue.get("HealthCheckType", "EC2"),
            "HealthCheckGracePeriod": blue.get("HealthCheckGracePeriod", 300),
            "Tags": [
                {k: t[k] for k in ("Key", "Value", "PropagateAtLaunch")}
                for t in blue.get("Tags", [])
                if not t["Key"].startswith("aws:")
            ],
        }
        if fleet.pair:
            params["TargetGroupARNs"] = fleet.green_tgs
        if blue.get("LaunchTemplate"):
            template = blue["LaunchTemplate"]
            params["LaunchTemplate"] = {
                "LaunchTemplateId": template["LaunchTemplateId"],
                "Version": template["Version"],
            }
        elif blue.get("MixedInstancesPolicy"):
            params["MixedInstancesPolicy"] = blue["MixedInstancesPolicy"]
        else:
            params["LaunchConfigurationName"] = blue["LaunchConfigurationName"]
        autoscaling.create_auto_scaling_group(**params)
        return fleet

    def _traffic_layout(self, deployment: dict, blue: dict) -> Fleet:
        elbv2 = self.client("elbv2", deployment["_region"])
        balancer = deployment.get("loadBalancerInfo") or {}
        pairs = balancer.get("targetGroupPairInfoList") or []
        if pairs:
            pair = pairs[0]
            names = [tg["name"] for tg in pair.get("targetGroups", [])]
            listeners = (pair.get("prodTrafficRoute") or {}).get("listenerArns", [])
            if len(names) != 2 or not listeners:
                raise DeploymentFailure(
                    "ELASTIC_LOAD_BALANCING_INVALID", "A target group pair needs two groups and a listener"
                )
            arns = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in _target_groups(elbv2, names)}
            live = _forward_target(elbv2, listeners[0])
            if live not in arns.values():
                raise DeploymentFailure(
                    "ELASTIC_LOAD_BALANCING_INVALID", f"Listener {listeners[0]} forwards to neither of {names}"
                )
            idle = next(arn for arn in arns.values() if arn != live)
            return Fleet([blue["AutoScalingGroupName"]], "", True, [live], [idle], listeners)
        names = [tg["name"] for tg in balancer.get("targetGroupInfoList") or []]
        if not names:
            raise DeploymentFailure("MISSING_ELB_INFORMATION", "The deployment group has no target group")
        arns = [tg["TargetGroupArn"] for tg in _target_groups(elbv2, names)]
        return Fleet([blue["AutoScalingGroupName"]], "", False, arns, arns, [])

    def reroute(self, region: str, fleet: Fleet) -> None:
        """AllowTraffic: the prod listeners to green's target group, or green registered and blue deregistered."""
        if self.traffic is not None:  # AllowTraffic waits for the green targets to pass their health check
            green = self.instances(region, fleet.green_asg)
            if fleet.pair:
                self.traffic.wait_healthy(green)
        if fleet.pair:
            for listener in fleet.listeners:
                _forward(self.client("elbv2", region), listener, fleet.green_tgs[0])
        else:
            green = self.instances(region, fleet.green_asg)
            blue = [i for name in fleet.blue_asgs for i in self.instances(region, name)]
            for arn in fleet.green_tgs:
                _register(self.client("elbv2", region), arn, green)
                if self.traffic is not None:
                    self.traffic.wait_healthy(green)
                _deregister(self.client("elbv2", region), arn, blue)
        fleet.switched = True
        if self.traffic is not None:
            self.traffic.sync()

    def restore_blue(self, region: str, fleet: Fleet | None) -> None:
        """A rollback's work: traffic back to blue if it had moved, then green removed."""
        if fleet is None:
            return
        if fleet.switched and fleet.pair:
            for listener in fleet.listeners:
                _forward(self.client("elbv2", region), listener, fleet.blue_tgs[0])
        elif fleet.switched:
            blue = [i for name in fleet.blue_asgs for i in self.instances(region, name)]
            for arn in fleet.blue_tgs:
                _register(self.client("elbv2", region), arn, blue)
        fleet.switched = False
        if self.traffic is not None:
            self.traffic.sync()
        if fleet.green_asg:
            self.delete(region, fleet.green_asg, fleet.green_tgs)

    def delete(self, region: str, name: str, target_groups: list[str]) -> None:
        """Terminate a fleet: out of its target groups first (moto leaves them registered), then the group."""
        instances = self.instances(region, name)
        for arn in target_groups:
            _deregister(self.client("elbv2", region), arn, instances)
        if self.traffic is not None:  # drained for the deregistration delay, then gone
            self.traffic.terminate(instances, target_groups)
        self.client("autoscaling", region).delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        if instances:
            self.client("ec2", region).terminate_instances(InstanceIds=instances)

    def missing_asgs(self, region: str, names: list[str]) -> set[str]:
        found = self.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=names)
        return set(names) - {g["AutoScalingGroupName"] for g in found["AutoScalingGroups"]}

    def instances(self, region: str, asg: str) -> list[str]:
        groups = self.client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[asg])
        return [i["InstanceId"] for g in groups["AutoScalingGroups"] for i in g.get("Instances", [])]

    def client(self, service: str, region: str) -> Any:
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                self._clients[key] = boto3.client(
                    service,
                    region_name=region,
                    endpoint_url=self.moto_endpoint,
                    aws_access_key_id="emulator",
                    aws_secret_access_key="emulator",  # noqa: S106 - moto accepts any key
                )
            return self._clients[key]


def _target_groups(elbv2: Any, names: list[str]) -> list[dict]:
    try:
        return elbv2.describe_target_groups(Names=names)["TargetGroups"]
    except ClientError as error:
        raise DeploymentFailure(
            "ELASTIC_LOAD_BALANCING_INVALID", f"Target groups {names} not found: {error}"
        ) from error


def _forward_target(elbv2: Any, listener: str) -> str:
    found = elbv2.describe_listeners(ListenerArns=[listener])["Listeners"]
    for action in found[0].get("DefaultActions", []) if found else []:
        if action.get("Type") == "forward":
            return action.get("TargetGroupArn") or action["ForwardConfig"]["TargetGroups"][0]["TargetGroupArn"]
    return ""


def _forward(elbv2: Any, listener: str, target_group: str) -> None:
    elbv2.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": target_group}])


def _register(elbv2: Any, target_group: str, instances: list[str]) -> None:
    if instances:
        elbv2.register_targets(TargetGroupArn=target_group, Targets=[{"Id": i} for i in instances])


def _deregister(elbv2: Any, target_group: str, instances: list[str]) -> None:
    """Only what is registered: moto (like ELB) refuses to deregister a target the group does not have."""
    health = elbv2.describe_target_health(TargetGroupArn=target_group)["TargetHealthDescriptions"]
    registered = {t["Target"]["Id"] for t in health} & set(instances)
    if registered:
        elbv2.deregister_targets(TargetGroupArn=target_group, Targets=[{"Id": i} for i in sorted(registered)])
