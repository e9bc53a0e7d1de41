"""A stateful CodeDeploy (EC2/Server, Blue/Green) for the local AWS emulator.

moto models CodeDeploy's create/get/list calls but a deployment stays `Created` forever, nothing is copied or
switched, StopDeployment/ContinueDeployment are missing and GetDeploymentGroup drops the Auto Scaling groups.
This model answers the CodeDeploy JSON API itself and acts on moto's EC2 / Auto Scaling / ELBv2 state the way the
real service does: copy the blue Auto Scaling group into a green one, run the lifecycle events, check green's
health, switch the ALB listener, terminate blue after the wait, or roll back and remove green.

Time is scaled: every lifecycle step takes `step_seconds`, and one "minute" of the group's wait settings takes
`minute_seconds`. A control hook marks a group's green fleet healthy, unhealthy, or hanging (never validates).
"""

from __future__ import annotations

import io
import secrets
import string
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import boto3
import yaml
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"  # moto's
GREEN_HEALTH = ("healthy", "unhealthy", "hang")
ACTIVE = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
INSTALL_EVENTS = (
    "ApplicationStop",
    "DownloadBundle",
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "ApplicationStart",
    "ValidateService",
)
TRAFFIC_EVENTS = ("BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic")


class ApiError(Exception):
    """A CodeDeploy error response: botocore raises it as ClientError with this code."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class _Stopped(Exception):
    pass


class _Failure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Timing:
    step_seconds: float = 0.05
    minute_seconds: float = 0.1


@dataclass
class _Fleet:
    """Where a deployment's traffic goes: the blue group and target group now, the green ones being built."""

    blue_asgs: list[str]
    green_asg: str
    pair: bool  # a blue/green target group pair behind prod listeners (else one target group list)
    blue_tgs: list[str]
    green_tgs: list[str]
    listeners: list[str]
    switched: bool = False


class CodeDeploy:
    """The CodeDeploy API, one instance per emulator. Thread-safe; each deployment runs in its own thread."""

    def __init__(self, moto_endpoint: str, timing: Timing | None = None) -> None:
        self.moto_endpoint = moto_endpoint
        self.timing = timing or Timing()
        self.traffic = None  # an AwsTraffic when instances really run the release behind a real load balancer
        self._lock = threading.RLock()
        self._clients: dict[tuple[str, str], Any] = {}
        self.reset()

    # -- control ------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._generation = getattr(self, "_generation", 0) + 1
            for deployment in getattr(self, "deployments", {}).values():
                deployment["_stop"].set()
            self.applications: dict[str, dict] = {}
            self.groups: dict[tuple[str, str], dict] = {}
            self.deployments: dict[str, dict] = {}
            self.green_health: dict[tuple[str, str], str] = {}

    def set_green_health(self, application: str, group: str, health: str) -> None:
        if health not in GREEN_HEALTH:
            raise ValueError(f"green health must be one of {', '.join(GREEN_HEALTH)}, got {health!r}")
        with self._lock:
            self.green_health[(application, group)] = health

    # -- wire entry ---------------------------------------------------------------------------------------------

    def handle(self, operation: str, body: dict, region: str) -> dict:
        handler: Callable[[dict, str], dict] | None = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise ApiError("UnknownOperationException", f"CodeDeploy {operation} is not emulated")
        with self._lock:
            return handler(body, region)

    # -- applications -------------------------------------------------------------------------------------------

    def _op_CreateApplication(self, body: dict, region: str) -> dict:
        name = _required(body, "applicationName")
        if name in self.applications:
            raise ApiError("ApplicationAlreadyExistsException", f"Application {name} already exists")
        app = {
            "applicationId": str(uuid.uuid4()),
            "applicationName": name,
            "createTime": time.time(),
            "linkedToGitHub": False,
            "computePlatform": body.get("computePlatform", "Server"),
        }
        self.applications[name] = app
        return {"applicationId": app["applicationId"]}

    def _op_GetApplication(self, body: dict, region: str) -> dict:
        return {"application": self._application(_required(body, "applicationName"))}

    def _op_ListApplications(self, body: dict, region: str) -> dict:
        return {"applications": sorted(self.applications)}

    def _op_DeleteApplication(self, body: dict, region: str) -> dict:
        name = _required(body, "applicationName")
        self.applications.pop(name, None)
        for key in [k for k in self.groups if k[0] == name]:
            del self.groups[key]
        return {}

    # -- deployment groups --------------------------------------------------------------------------------------

    def _op_CreateDeploymentGroup(self, body: dict, region: str) -> dict:
        app = self._application(_required(body, "applicationName"))
        name = _required(body, "deploymentGroupName")
        if (app["applicationName"], name) in self.groups:
            raise ApiError("DeploymentGroupAlreadyExistsException", f"Deployment group {name} already exists")
        _required(body, "serviceRoleArn")
        group = {
            "applicationName": app["applicationName"],
            "deploymentGroupId": str(uuid.uuid4()),
            "deploymentGroupName": name,
            "deploymentConfigName": body.get("deploymentConfigName", "CodeDeployDefault.OneAtATime"),
            "computePlatform": app["computePlatform"],
            "_region": region,
        }
        self._apply_group_settings(group, body)
        self.groups[(app["applicationName"], name)] = group
        return {"deploymentGroupId": group["deploymentGroupId"]}

    def _op_UpdateDeploymentGroup(self, body: dict, region: str) -> dict:
        application = _required(body, "applicationName")
        current = _required(body, "currentDeploymentGroupName")
        group = self._group(application, current)
        new_name = body.get("newDeploymentGroupName")
        if new_name and new_name != current:
            del self.groups[(application, current)]
            group["deploymentGroupName"] = new_name
            self.groups[(application, new_name)] = group
        if "deploymentConfigName" in body:
            group["deploymentConfigName"] = body["deploymentConfigName"]
        self._apply_group_settings(group, body)
        return {"hooksNotCleanedUp": []}

    def _apply_group_settings(self, group: dict, body: dict) -> None:
        for key in (
            "serviceRoleArn",
            "autoRollbackConfiguration",
            "deploymentStyle",
            "blueGreenDeploymentConfiguration",
            "loadBalancerInfo",
            "ec2TagFilters",
            "alarmConfiguration",
            "triggerConfigurations",
            "outdatedInstancesStrategy",
        ):
            if key in body:
                group[key] = body[key]
        if "autoScalingGroups" in body:
            self._require_asgs(group.get("_region", "us-east-1"), body["autoScalingGroups"])
            group["autoScalingGroups"] = [
                {"name": n, "hook": f"CodeDeploy-managed-{n}"} for n in body["autoScalingGroups"]
            ]
        group.setdefault("autoScalingGroups", [])
        group.setdefault(
            "deploymentStyle", {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
        )

    def _require_asgs(self, region: str, names: list[str]) -> None:
        if not names:
            return
        found = self._client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=names)
        missing = set(names) - {g["AutoScalingGroupName"] for g in found["AutoScalingGroups"]}
        if missing:
            raise ApiError("InvalidAutoScalingGroupException", f"Auto Scaling groups not found: {sorted(missing)}")

    def _op_GetDeploymentGroup(self, body: dict, region: str) -> dict:
        group = self._group(_required(body, "applicationName"), _required(body, "deploymentGroupName"))
        return {"deploymentGroupInfo": _public(group)}

    def _op_ListDeploymentGroups(self, body: dict, region: str) -> dict:
        application = self._application(_required(body, "applicationName"))["applicationName"]
        names = sorted(name for app, name in self.groups if app == application)
        return {"applicationName": application, "deploymentGroups": names}

    def _op_DeleteDeploymentGroup(self, body: dict, region: str) -> dict:
        self.groups.pop((_required(body, "applicationName"), _required(body, "deploymentGroupName")), None)
        return {"hooksNotCleanedUp": []}

    # -- deployments --------------------------------------------------------------------------------------------

    def _op_CreateDeployment(self, body: dict, region: str) -> dict:
        application = self._application(_required(body, "applicationName"))["applicationName"]
        group = self._group(application, _required(body, "deploymentGroupName"))
        revision = body.get("revision") or group.get("targetRevision")
        if not revision:
            raise ApiError("RevisionRequiredException", "The revision ID was not specified")
        s3 = revision.get("s3Location") or {}
        if revision.get("revisionType") != "S3" or not s3.get("bucket") or not s3.get("key"):
            raise ApiError("InvalidRevisionException", "Only S3 revisions with a bucket and key are emulated")
        busy = [d["deploymentId"] for d in self.deployments.values() if _same_group(d, group) and d["status"] in ACTIVE]
        if busy:
            raise ApiError(
                "DeploymentLimitExceededException",
                f"The deployment group {group['deploymentGroupName']} already has an active deployment {busy[0]}",
            )
        deployment = self._new_deployment(group, revision, creator="user", description=body.get("description"))
        if "autoRollbackConfiguration" in body:
            deployment["autoRollbackConfiguration"] = body["autoRollbackConfiguration"]
        group["targetRevision"] = revision
        group["lastAttemptedDeployment"] = _summary(deployment)
        self._start(deployment)
        return {"deploymentId": deployment["deploymentId"]}

    def _op_GetDeployment(self, body: dict, region: str) -> dict:
        return {"deploymentInfo": _public(self._deployment(_required(body, "deploymentId")))}

    def _op_BatchGetDeployments(self, body: dict, region: str) -> dict:
        ids = body.get("deploymentIds") or []
        if len(ids) > 25:
            raise ApiError("BatchLimitExceededException", "The maximum number of deployment IDs is 25")
        return {"deploymentsInfo": [_public(self.deployments[i]) for i in ids if i in self.deployments]}

    def _op_ListDeployments(self, body: dict, region: str) -> dict:
        application = body.get("applicationName")
        group_name = body.get("deploymentGroupName")
        if group_name and not application:
            raise ApiError("ApplicationNameRequiredException", "applicationName is required with deploymentGroupName")
        if application:
            self._application(application)
        if application and group_name:
            self._group(application, group_name)
        statuses = set(body.get("includeOnlyStatuses") or [])
        found = [
            d
            for d in self.deployments.values()
            if (not application or d["applicationName"] == application)
            and (not group_name or d["deploymentGroupName"] == group_name)
            and (not statuses or d["status"] in statuses)
        ]
        found.sort(key=lambda d: d["createTime"], reverse=True)  # newest first, as CodeDeploy lists them
        return {"deployments": [d["deploymentId"] for d in found]}

    def _op_StopDeployment(self, body: dict, region: str) -> dict:
        deployment = self._deployment(_required(body, "deploymentId"))
        if deployment["status"] in TERMINAL:
            raise ApiError(
                "DeploymentAlreadyCompletedException", f"Deployment {deployment['deploymentId']} has already completed"
            )
        deployment["_stop_rollback"] = bool(body.get("autoRollbackEnabled", False))
        deployment["_stop"].set()
        return {"status": "Pending", "statusMessage": "Stop request received; the deployment is being stopped"}

    def _op_ContinueDeployment(self, body: dict, region: str) -> dict:
        deployment = self._deployment(_required(body, "deploymentId"))
        if deployment["status"] != "Ready":
            raise ApiError(
                "DeploymentIsNotInReadyStateException",
                f"Deployment {deployment['deploymentId']} is {deployment['status']}, not Ready",
            )
        deployment["_continue"].set()
        return {}

    def _op_ListDeploymentTargets(self, body: dict, region: str) -> dict:
        deployment = self._deployment(_required(body, "deploymentId"))
        return {"targetIds": list(deployment.get("_targets", []))}

    def _op_BatchGetDeploymentTargets(self, body: dict, region: str) -> dict:
        deployment = self._deployment(_required(body, "deploymentId"))
        wanted = body.get("targetIds") or []
        if len(wanted) > 25:
            raise ApiError("DeploymentTargetListSizeExceededException", "The maximum number of targets is 25")
        status = {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}.get(
            deployment["status"], "InProgress"
        )
        targets = [
            {
                "deploymentTargetType": "InstanceTarget",
                "instanceTarget": {
                    "deploymentId": deployment["deploymentId"],
                    "targetId": target,
                    "targetArn": f"arn:aws:ec2:{deployment['_region']}:{ACCOUNT}:instance/{target}",
                    "status": status,
                    "lastUpdatedAt": time.time(),
                    "lifecycleEvents": [dict(event) for event in deployment["_events"]],
                    "instanceLabel": "Green",
                },
            }
            for target in wanted
            if target in deployment.get("_targets", [])
        ]
        return {"deploymentTargets": targets}

    # -- the lifecycle ------------------------------------------------------------------------------------------

    def _new_deployment(self, group: dict, revision: dict, *, creator: str, description: str | None) -> dict:
        deployment_id = "d-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        last = self._last_successful(group)
        deployment = {
            "applicationName": group["applicationName"],
            "deploymentGroupName": group["deploymentGroupName"],
            "deploymentConfigName": group["deploymentConfigName"],
            "deploymentId": deployment_id,
            "revision": revision,
            "status": "Created",
            "createTime": time.time(),
            "creator": creator,
            "ignoreApplicationStopFailures": False,
            "autoRollbackConfiguration": group.get("autoRollbackConfiguration", {"enabled": False}),
            "deploymentStyle": group.get("deploymentStyle"),
            "blueGreenDeploymentConfiguration": group.get("blueGreenDeploymentConfiguration"),
            "loadBalancerInfo": group.get("loadBalancerInfo"),
            "computePlatform": group["computePlatform"],
            "deploymentOverview": _overview(),
            "fileExistsBehavior": "DISALLOW",
            "instanceTerminationWaitTimeStarted": False,
            "deploymentStatusMessages": [],
            "_region": group["_region"],
            "_stop": threading.Event(),
            "_continue": threading.Event(),
            "_stop_rollback": False,
            "_generation": self._generation,
            "_events": [],
        }
        if description:
            deployment["description"] = description
        if last:
            deployment["previousRevision"] = last["revision"]
        self.deployments[deployment_id] = deployment
        return deployment

    def _start(self, deployment: dict) -> None:
        threading.Thread(target=self._run, args=(deployment,), name=deployment["deploymentId"], daemon=True).start()

    def _run(self, deployment: dict) -> None:
        fleet: _Fleet | None = None
        try:
            self._pause(deployment)
            self._update(deployment, status="InProgress", startTime=time.time())
            settings = self._check_revision(deployment)
            fleet = self._provision_green(deployment)
            actions: dict[str, Callable[[], None]] = {
                "ValidateService": lambda: self._validate_green(deployment, fleet, settings),
                "AllowTraffic": lambda: self._reroute(deployment, fleet),
            }
            if self.traffic is not None:  # the revision's own hooks run on the instances, and decide
                for event in INSTALL_EVENTS:
                    actions[event] = self._hooks(deployment, fleet, event)
            for event in INSTALL_EVENTS:
                self._event(deployment, event, actions.get(event))
            self._wait_until_ready(deployment)
            for event in TRAFFIC_EVENTS:
                self._event(deployment, event, actions.get(event))
            self._terminate_blue(deployment, fleet)
            self._succeed(deployment, fleet)
        except _Stopped:
            if self._current(deployment):
                self._finish_stopped(deployment, fleet or deployment.get("_fleet"))
        except _Failure as failure:
            if self._current(deployment):
                self._finish_failed(deployment, fleet or deployment.get("_fleet"), failure.code, failure.message)
        except Exception as error:  # the emulator's own bug or moto's: surface it as CodeDeploy would
            if self._current(deployment):
                message = f"emulator error: {error!r}"
                self._finish_failed(deployment, fleet or deployment.get("_fleet"), "INTERNAL_ERROR", message)

    def _current(self, deployment: dict) -> bool:
        return deployment["_generation"] == self._generation

    def _pause(self, deployment: dict, seconds: float | None = None) -> None:
        """One lifecycle step of (scaled) time; a stop request interrupts it."""
        if deployment["_stop"].wait(self.timing.step_seconds if seconds is None else seconds):
            raise _Stopped
        if not self._current(deployment):
            raise _Stopped

    def _event(self, deployment: dict, event: str, action: Callable[[], None] | None = None) -> None:
        """One lifecycle event on the green instances, recorded for BatchGetDeploymentTargets."""
        record = {"lifecycleEventName": event, "status": "InProgress", "startTime": time.time()}
        with self._lock:
            deployment["_events"].append(record)
        try:
            self._pause(deployment)
            if action:
                action()
        except _Failure:
            record.update(status="Failed", endTime=time.time())
            raise
        except _Stopped:
            record.update(status="Skipped", endTime=time.time())
            raise
        record.update(status="Succeeded", endTime=time.time())

    def _hooks(self, deployment: dict, fleet: _Fleet, event: str) -> Callable[[], None]:
        def run() -> None:
            from dojangkok_local.aws.traffic import HookFailed

            try:
                self.traffic.run_event(deployment, event, deployment["_bundle"],
                                       self._instances(deployment["_region"], fleet.green_asg))
            except HookFailed as error:
                raise _Failure("HEALTH_CONSTRAINTS" if event == "ValidateService" else "SCRIPT_FAILED",
                               f"The overall deployment failed because too many individual instances failed "
                               f"deployment: {error}") from error

        return run

    def _check_revision(self, deployment: dict) -> dict[str, str]:
        """Download the bundle from S3 like the agent would; a missing or malformed revision fails the deployment."""
        location = deployment["revision"]["s3Location"]
        try:
            body = self._client("s3", deployment["_region"]).get_object(Bucket=location["bucket"], Key=location["key"])
        except ClientError as error:
            raise _Failure(
                "REVISION_MISSING", f"The revision s3://{location['bucket']}/{location['key']} does not exist: {error}"
            ) from error
        try:
            deployment["_bundle"] = body["Body"].read()
            bundle = zipfile.ZipFile(io.BytesIO(deployment["_bundle"]))
            names = set(bundle.namelist())
            appspec = yaml.safe_load(bundle.read("appspec.yml"))
            for event, scripts in (appspec.get("hooks") or {}).items():
                for script in scripts or []:
                    if script["location"].lstrip("/") not in names:
                        raise _Failure("INVALID_REVISION", f"{event} script {script['location']} is not in the bundle")
            settings = {}
            if "release.env" in names:
                for line in bundle.read("release.env").decode().splitlines():
                    key, sep, value = line.partition("=")
                    if sep and not key.startswith("#"):
                        settings[key.strip()] = value.strip().strip("'\"")
            return settings
        except (zipfile.BadZipFile, KeyError, yaml.YAMLError, AttributeError, TypeError) as error:
            raise _Failure("INVALID_REVISION", f"The revision is not a valid CodeDeploy bundle: {error!r}") from error

    def _provision_green(self, deployment: dict) -> _Fleet:
        """Copy the blue Auto Scaling group; with a target group pair, green instances join the idle target group."""
        region = deployment["_region"]
        group = self._group(deployment["applicationName"], deployment["deploymentGroupName"])
        blue_names = [g["name"] for g in group.get("autoScalingGroups", [])]
        style = deployment.get("deploymentStyle") or {}
        if style.get("deploymentType") != "BLUE_GREEN":
            raise _Failure("MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION", "Only BLUE_GREEN deployments are emulated")
        fleet_option = (deployment.get("blueGreenDeploymentConfiguration") or {}).get("greenFleetProvisioningOption")
        if (fleet_option or {}).get("action") != "COPY_AUTO_SCALING_GROUP" or not blue_names:
            raise _Failure("AUTO_SCALING_CONFIGURATION", "Green fleet must be a copy of exactly one Auto Scaling group")
        autoscaling = self._client("autoscaling", region)
        found = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=blue_names[:1])["AutoScalingGroups"]
        if not found:
            raise _Failure("AUTO_SCALING_CONFIGURATION", f"Auto Scaling group {blue_names[0]} does not exist")
        blue = found[0]
        if not blue.get("Instances"):
            raise _Failure("NO_INSTANCES", f"Auto Scaling group {blue_names[0]} has no instances to copy")

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
        with self._lock:
            deployment["_fleet"] = fleet
            instances = self._instances(region, fleet.green_asg)
            deployment["targetInstances"] = {"autoScalingGroups": [fleet.green_asg]}
            deployment["_targets"] = instances
            deployment["deploymentOverview"] = _overview(InProgress=len(instances))
        if self.traffic is not None:
            self.traffic.launch(instances)
        return fleet

    def _traffic_layout(self, deployment: dict, blue: dict) -> _Fleet:
        region = deployment["_region"]
        elbv2 = self._client("elbv2", region)
        balancer = deployment.get("loadBalancerInfo") or {}
        pairs = balancer.get("targetGroupPairInfoList") or []
        if pairs:
            pair = pairs[0]
            names = [tg["name"] for tg in pair.get("targetGroups", [])]
            listeners = (pair.get("prodTrafficRoute") or {}).get("listenerArns", [])
            if len(names) != 2 or not listeners:
                raise _Failure("ELASTIC_LOAD_BALANCING_INVALID", "A target group pair needs two groups and a listener")
            arns = {tg["TargetGroupName"]: tg["TargetGroupArn"] for tg in _target_groups(elbv2, names)}
            live = _forward_target(elbv2, listeners[0])
            if live not in arns.values():
                raise _Failure(
                    "ELASTIC_LOAD_BALANCING_INVALID", f"Listener {listeners[0]} forwards to neither of {names}"
                )
            idle = next(arn for arn in arns.values() if arn != live)
            return _Fleet([blue["AutoScalingGroupName"]], "", True, [live], [idle], listeners)
        names = [tg["name"] for tg in balancer.get("targetGroupInfoList") or []]
        if not names:
            raise _Failure("MISSING_ELB_INFORMATION", "The deployment group has no target group")
        arns = [tg["TargetGroupArn"] for tg in _target_groups(elbv2, names)]
        return _Fleet([blue["AutoScalingGroupName"]], "", False, arns, arns, [])

    def _validate_green(self, deployment: dict, fleet: _Fleet, settings: dict[str, str]) -> None:
        with self._lock:
            health = self.green_health.get((deployment["applicationName"], deployment["deploymentGroupName"]))
        health = health or "healthy"
        url = f"http://127.0.0.1:{settings.get('PORT', '?')}{settings.get('HEALTH_PATH', '/')}"
        if health == "hang":
            while True:  # the hook never returns; only StopDeployment (or its own timeout) ends it
                self._pause(deployment)
        if health == "unhealthy":
            instance = next(iter(self._instances(deployment["_region"], fleet.green_asg)), "i-unknown")
            raise _Failure(
                "HEALTH_CONSTRAINTS",
                f"The overall deployment failed because too many individual instances failed deployment: "
                f"ValidateService on {instance} ({fleet.green_asg}) got no healthy answer from {url}",
            )

    def _wait_until_ready(self, deployment: dict) -> None:
        ready = (deployment.get("blueGreenDeploymentConfiguration") or {}).get("deploymentReadyOption") or {}
        if ready.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return
        self._update(deployment, status="Ready")
        wait = ready.get("waitTimeInMinutes", 0) * self.timing.minute_seconds
        deadline = time.monotonic() + wait
        while not deployment["_continue"].is_set():
            if time.monotonic() >= deadline:
                deployment["_stop_rollback"] = True
                raise _Stopped
            self._pause(deployment, min(self.timing.step_seconds, max(deadline - time.monotonic(), 0.001)))
        self._update(deployment, status="InProgress")

    def _reroute(self, deployment: dict, fleet: _Fleet) -> None:
        region = deployment["_region"]
        if self.traffic is not None:  # AllowTraffic waits for the green targets to pass their health check
            green = self._instances(region, fleet.green_asg)
            if fleet.pair:
                self.traffic.wait_healthy(green)
        if fleet.pair:
            for listener in fleet.listeners:
                _forward(self._client("elbv2", region), listener, fleet.green_tgs[0])
        else:
            green = self._instances(region, fleet.green_asg)
            blue = [i for name in fleet.blue_asgs for i in self._instances(region, name)]
            for arn in fleet.green_tgs:
                _register(self._client("elbv2", region), arn, green)
                if self.traffic is not None:
                    self.traffic.wait_healthy(green)
                _deregister(self._client("elbv2", region), arn, blue)
        fleet.switched = True
        if self.traffic is not None:
            self.traffic.sync()

    def _terminate_blue(self, deployment: dict, fleet: _Fleet) -> None:
        option = (deployment.get("blueGreenDeploymentConfiguration") or {}).get(
            "terminateBlueInstancesOnDeploymentSuccess"
        ) or {}
        if option.get("action") != "TERMINATE":
            return
        self._update(deployment, instanceTerminationWaitTimeStarted=True)
        self._pause(deployment, option.get("terminationWaitTimeInMinutes", 0) * self.timing.minute_seconds)
        for name in fleet.blue_asgs:
            self._delete_asg(deployment["_region"], name, fleet.blue_tgs)

    def _succeed(self, deployment: dict, fleet: _Fleet) -> None:
        with self._lock:
            count = len(self._instances(deployment["_region"], fleet.green_asg))
            group = self.groups.get((deployment["applicationName"], deployment["deploymentGroupName"]))
            if group is not None:
                group["autoScalingGroups"] = [
                    {"name": fleet.green_asg, "hook": f"CodeDeploy-managed-{fleet.green_asg}"}
                ]
            self._complete(deployment, "Succeeded", overview=_overview(Succeeded=count))

    def _finish_failed(self, deployment: dict, fleet: _Fleet | None, code: str, message: str) -> None:
        rollback = deployment.get("autoRollbackConfiguration") or {}
        if rollback.get("enabled") and "DEPLOYMENT_FAILURE" in (rollback.get("events") or []):
            self._roll_back(deployment, fleet, "Failed", code, message)
        else:
            self._complete(deployment, "Failed", error={"code": code, "message": message})

    def _finish_stopped(self, deployment: dict, fleet: _Fleet | None) -> None:
        message = "The deployment was stopped on request"
        if deployment["_stop_rollback"]:
            self._roll_back(deployment, fleet, "Stopped", "MANUAL_STOP", message)
        else:
            self._complete(deployment, "Stopped", error={"code": "MANUAL_STOP", "message": message})

    def _roll_back(self, deployment: dict, fleet: _Fleet | None, status: str, code: str, message: str) -> None:
        """Traffic back to blue, green removed; through a rollback deployment when there is a revision to return to."""
        error = {"code": code, "message": message}
        with self._lock:
            group = self.groups.get((deployment["applicationName"], deployment["deploymentGroupName"]))
            last = self._last_successful(group) if group else None
        if last is None or group is None:
            try:
                self._restore_blue(deployment, fleet)
            except Exception as restore_error:  # still finish the record, saying what was left behind
                message += f"; cleaning up green failed: {restore_error!r}"
                error["message"] = message
            self._complete(
                deployment,
                status,
                error=error,
                rollback={"rollbackMessage": "No previous successful revision; the original instances kept serving"},
            )
            return
        with self._lock:
            rollback = self._new_deployment(group, last["revision"], creator="codeDeployRollback", description=None)
            rollback["rollbackInfo"] = {"rollbackTriggeringDeploymentId": deployment["deploymentId"]}
            rollback["status"] = "InProgress"
            rollback["startTime"] = time.time()
            self._complete(
                deployment,
                status,
                error=error,
                rollback={
                    "rollbackDeploymentId": rollback["deploymentId"],
                    "rollbackMessage": f"Rolling back to {_location(last['revision'])} in {rollback['deploymentId']}",
                },
            )
        try:
            time.sleep(self.timing.step_seconds)
            self._restore_blue(rollback, fleet)
            self._complete(rollback, "Succeeded")
        except Exception as error:  # keep the record honest if moto refuses
            self._complete(rollback, "Failed", error={"code": "INTERNAL_ERROR", "message": repr(error)})

    def _restore_blue(self, deployment: dict, fleet: _Fleet | None) -> None:
        if fleet is None:
            return
        region = deployment["_region"]
        if fleet.switched and fleet.pair:
            for listener in fleet.listeners:
                _forward(self._client("elbv2", region), listener, fleet.blue_tgs[0])
        elif fleet.switched:
            blue = [i for name in fleet.blue_asgs for i in self._instances(region, name)]
            for arn in fleet.blue_tgs:
                _register(self._client("elbv2", region), arn, blue)
        fleet.switched = False
        if self.traffic is not None:
            self.traffic.sync()
        if fleet.green_asg:
            self._delete_asg(region, fleet.green_asg, fleet.green_tgs)

    def _complete(
        self, deployment: dict, status: str, *, error: dict | None = None, rollback: dict | None = None, overview=None
    ) -> None:
        with self._lock:
            deployment["status"] = status
            deployment["completeTime"] = time.time()
            if error:
                deployment["errorInformation"] = error
            if rollback:
                deployment["rollbackInfo"] = {**deployment.get("rollbackInfo", {}), **rollback}
            if overview:
                deployment["deploymentOverview"] = overview
            group = self.groups.get((deployment["applicationName"], deployment["deploymentGroupName"]))
            if group is not None:
                group["lastAttemptedDeployment"] = _summary(deployment)
                if status == "Succeeded":
                    group["lastSuccessfulDeployment"] = _summary(deployment)

    def _update(self, deployment: dict, **fields: Any) -> None:
        with self._lock:
            deployment.update(fields)

    # -- moto helpers -------------------------------------------------------------------------------------------

    def _instances(self, region: str, asg: str) -> list[str]:
        groups = self._client("autoscaling", region).describe_auto_scaling_groups(AutoScalingGroupNames=[asg])
        return [i["InstanceId"] for g in groups["AutoScalingGroups"] for i in g.get("Instances", [])]

    def _delete_asg(self, region: str, name: str, target_groups: list[str]) -> None:
        """Terminate a fleet: out of its target groups first (moto leaves them registered), then the group."""
        instances = self._instances(region, name)
        for arn in target_groups:
            _deregister(self._client("elbv2", region), arn, instances)
        if self.traffic is not None:  # drained for the deregistration delay, then gone
            self.traffic.terminate(instances, target_groups)
        self._client("autoscaling", region).delete_auto_scaling_group(AutoScalingGroupName=name, ForceDelete=True)
        if instances:
            self._client("ec2", region).terminate_instances(InstanceIds=instances)

    def _client(self, service: str, region: str) -> Any:
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

    def _last_successful(self, group: dict) -> dict | None:
        done = [d for d in self.deployments.values() if _same_group(d, group) and d["status"] == "Succeeded"]
        return max(done, key=lambda d: d["completeTime"], default=None)

    # -- lookups ------------------------------------------------------------------------------------------------

    def _application(self, name: str) -> dict:
        if name not in self.applications:
            raise ApiError("ApplicationDoesNotExistException", f"No application found for name: {name}")
        return self.applications[name]

    def _group(self, application: str, name: str) -> dict:
        self._application(application)
        if (application, name) not in self.groups:
            raise ApiError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
        return self.groups[(application, name)]

    def _deployment(self, deployment_id: str) -> dict:
        if deployment_id not in self.deployments:
            raise ApiError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found")
        return self.deployments[deployment_id]


def _required(body: dict, key: str) -> Any:
    if not body.get(key):
        raise ApiError("ValidationException", f"{key} is required")
    return body[key]


def _public(record: dict) -> dict:
    """The wire view: internal bookkeeping (keys starting with `_`) stays in the emulator."""
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}


def _summary(deployment: dict) -> dict:
    summary = {
        "deploymentId": deployment["deploymentId"],
        "status": deployment["status"],
        "createTime": deployment["createTime"],
    }
    if "completeTime" in deployment:
        summary["endTime"] = deployment["completeTime"]
    return summary


def _same_group(deployment: dict, group: dict) -> bool:
    return (
        deployment["applicationName"] == group["applicationName"]
        and deployment["deploymentGroupName"] == group["deploymentGroupName"]
    )


def _overview(**counts: int) -> dict:
    return {k: counts.get(k, 0) for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}


def _location(revision: dict) -> str:
    s3 = revision.get("s3Location") or {}
    return f"s3://{s3.get('bucket')}/{s3.get('key')}"


def _target_groups(elbv2: Any, names: list[str]) -> list[dict]:
    try:
        return elbv2.describe_target_groups(Names=names)["TargetGroups"]
    except ClientError as error:
        raise _Failure("ELASTIC_LOAD_BALANCING_INVALID", f"Target groups {names} not found: {error}") from error


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
