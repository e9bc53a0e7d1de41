"""CodeDeploy's state machine: applications, deployment groups and deployments, and the rules AWS documents for them.

Records keep the API's own field names (camelCase), so the wire layer hands them out as they are; keys starting
with `_` are the emulator's bookkeeping and never leave it. Time is scaled (`Timing`): every lifecycle step takes
`step_seconds`, and one "minute" of a group's wait settings takes `minute_seconds`.
"""

from __future__ import annotations

import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from dojangkok_local.aws.codedeploy.exceptions import ApiError
from dojangkok_local.aws.codedeploy.fleets import Fleets
from dojangkok_local.aws.codedeploy.lifecycle import DeploymentRun, deployment_overview

ACCOUNT = "123456789012"  # moto's
GREEN_HEALTH = ("healthy", "unhealthy", "hang")
ACTIVE = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
GROUP_SETTINGS = (  # what a deployment group keeps exactly as it was given
    "serviceRoleArn",
    "autoRollbackConfiguration",
    "deploymentStyle",
    "blueGreenDeploymentConfiguration",
    "loadBalancerInfo",
    "ec2TagFilters",
    "alarmConfiguration",
    "triggerConfigurations",
    "outdatedInstancesStrategy",
)


@dataclass
class Timing:
    step_seconds: float = 0.05
    minute_seconds: float = 0.1


class CodeDeploy:
    """The CodeDeploy service, one instance per emulator. Thread-safe; each deployment runs in its own thread."""

    def __init__(self, moto_endpoint: str, timing: Timing | None = None) -> None:
        self.moto_endpoint = moto_endpoint
        self.timing = timing or Timing()
        self.lock = threading.RLock()  # every record, and the wire layer holds it for a whole call
        self.fleets = Fleets(moto_endpoint, self.lock)
        self.reset()

    @property
    def traffic(self) -> Any:
        """An AwsTraffic when instances really run the release behind a real load balancer; the fleets act on it."""
        return self.fleets.traffic

    @traffic.setter
    def traffic(self, traffic: Any) -> None:
        self.fleets.traffic = traffic

    # -- control ------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.generation = getattr(self, "generation", 0) + 1  # runs from before the reset see it and end
            for deployment in getattr(self, "deployments", {}).values():
                deployment["_stop"].set()
            self.applications: dict[str, dict] = {}
            self.groups: dict[tuple[str, str], dict] = {}
            self.deployments: dict[str, dict] = {}
            self.green_health: dict[tuple[str, str], str] = {}

    def set_green_health(self, application: str, group: str, health: str) -> None:
        if health not in GREEN_HEALTH:
            raise ValueError(f"green health must be one of {', '.join(GREEN_HEALTH)}, got {health!r}")
        with self.lock:
            self.green_health[(application, group)] = health

    # -- applications -------------------------------------------------------------------------------------------

    def create_application(self, name: str, compute_platform: str) -> dict:
        if name in self.applications:
            raise ApiError("ApplicationAlreadyExistsException", f"Application {name} already exists")
        app = {
            "applicationId": str(uuid.uuid4()),
            "applicationName": name,
            "createTime": time.time(),
            "linkedToGitHub": False,
            "computePlatform": compute_platform,
        }
        self.applications[name] = app
        return app

    def delete_application(self, name: str) -> None:
        self.applications.pop(name, None)
        for key in [k for k in self.groups if k[0] == name]:
            del self.groups[key]

    # -- deployment groups --------------------------------------------------------------------------------------

    def create_deployment_group(self, application: str, name: str, region: str, settings: dict) -> dict:
        """`settings`: the group's fields the request gave (GROUP_SETTINGS, autoScalingGroups, deploymentConfigName)."""
        app = self.application(application)
        self.refuse_existing_group(app["applicationName"], name)
        group = {
            "applicationName": app["applicationName"],
            "deploymentGroupId": str(uuid.uuid4()),
            "deploymentGroupName": name,
            "deploymentConfigName": settings.get("deploymentConfigName", "CodeDeployDefault.OneAtATime"),
            "computePlatform": app["computePlatform"],
            "_region": region,
        }
        self._apply_group_settings(group, settings)
        self.groups[(app["applicationName"], name)] = group
        return group

    def refuse_existing_group(self, application: str, name: str) -> None:
        if (application, name) in self.groups:
            raise ApiError("DeploymentGroupAlreadyExistsException", f"Deployment group {name} already exists")

    def update_deployment_group(self, application: str, current: str, new_name: str | None, settings: dict) -> None:
        group = self.group(application, current)
        if new_name and new_name != current:
            del self.groups[(application, current)]
            group["deploymentGroupName"] = new_name
            self.groups[(application, new_name)] = group
        if "deploymentConfigName" in settings:
            group["deploymentConfigName"] = settings["deploymentConfigName"]
        self._apply_group_settings(group, settings)

    def _apply_group_settings(self, group: dict, settings: dict) -> None:
        for key in GROUP_SETTINGS:
            if key in settings:
                group[key] = settings[key]
        if "autoScalingGroups" in settings:
            self._require_asgs(group.get("_region", "us-east-1"), settings["autoScalingGroups"])
            group["autoScalingGroups"] = [
                {"name": n, "hook": f"CodeDeploy-managed-{n}"} for n in settings["autoScalingGroups"]
            ]
        group.setdefault("autoScalingGroups", [])
        group.setdefault(
            "deploymentStyle", {"deploymentType": "IN_PLACE", "deploymentOption": "WITHOUT_TRAFFIC_CONTROL"}
        )

    def _require_asgs(self, region: str, names: list[str]) -> None:
        if not names:
            return
        missing = self.fleets.missing_asgs(region, names)
        if missing:
            raise ApiError("InvalidAutoScalingGroupException", f"Auto Scaling groups not found: {sorted(missing)}")

    def deployment_group_names(self, application: str) -> list[str]:
        return sorted(name for app, name in self.groups if app == application)

    def delete_deployment_group(self, application: str, name: str) -> None:
        self.groups.pop((application, name), None)

    # -- deployments --------------------------------------------------------------------------------------------

    def create_deployment(
        self, application: str, group_name: str, revision: dict | None, *, description: str | None, overrides: dict
    ) -> dict:
        """A deployment of `revision` (else the group's target revision), started; `overrides`: the deployment's own
        autoRollbackConfiguration when the request gave one."""
        group = self.group(application, group_name)
        revision = revision or group.get("targetRevision")
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
        deployment = self.new_deployment(group, revision, creator="user", description=description)
        if "autoRollbackConfiguration" in overrides:
            deployment["autoRollbackConfiguration"] = overrides["autoRollbackConfiguration"]
        group["targetRevision"] = revision
        group["lastAttemptedDeployment"] = _summary(deployment)
        DeploymentRun(self, deployment).start()
        return deployment

    def list_deployments(self, application: str | None, group_name: str | None, statuses: list | None) -> list[dict]:
        """Newest first, as CodeDeploy lists them; no statuses means every status."""
        if application:
            self.application(application)
        if application and group_name:
            self.group(application, group_name)
        wanted = set(statuses or [])
        found = [
            d
            for d in self.deployments.values()
            if (not application or d["applicationName"] == application)
            and (not group_name or d["deploymentGroupName"] == group_name)
            and (not wanted or d["status"] in wanted)
        ]
        found.sort(key=lambda d: d["createTime"], reverse=True)
        return found

    def known_deployments(self, deployment_ids: list[str]) -> list[dict]:
        return [self.deployments[i] for i in deployment_ids if i in self.deployments]

    def stop_deployment(self, deployment_id: str, roll_back: bool) -> None:
        deployment = self.deployment(deployment_id)
        if deployment["status"] in TERMINAL:
            raise ApiError(
                "DeploymentAlreadyCompletedException", f"Deployment {deployment['deploymentId']} has already completed"
            )
        deployment["_stop_rollback"] = roll_back
        deployment["_stop"].set()

    def continue_deployment(self, deployment_id: str) -> None:
        deployment = self.deployment(deployment_id)
        if deployment["status"] != "Ready":
            raise ApiError(
                "DeploymentIsNotInReadyStateException",
                f"Deployment {deployment['deploymentId']} is {deployment['status']}, not Ready",
            )
        deployment["_continue"].set()

    def target_ids(self, deployment_id: str) -> list[str]:
        return list(self.deployment(deployment_id).get("_targets", []))

    def instance_targets(self, deployment: dict, target_ids: list[str]) -> list[dict]:
        """The deployment's green instances among `target_ids`, each with the lifecycle events run so far."""
        status = {"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}.get(
            deployment["status"], "InProgress"
        )
        return [
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
            for target in target_ids
            if target in deployment.get("_targets", [])
        ]

    # -- deployment records (the lifecycle advances them) -------------------------------------------------------

    def new_deployment(self, group: dict, revision: dict, *, creator: str, description: str | None) -> dict:
        deployment_id = "d-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))
        last = self.last_successful(group)
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
            "deploymentOverview": deployment_overview(),
            "fileExistsBehavior": "DISALLOW",
            "instanceTerminationWaitTimeStarted": False,
            "deploymentStatusMessages": [],
            "_region": group["_region"],
            "_stop": threading.Event(),
            "_continue": threading.Event(),
            "_stop_rollback": False,
            "_generation": self.generation,
            "_events": [],
        }
        if description:
            deployment["description"] = description
        if last:
            deployment["previousRevision"] = last["revision"]
        self.deployments[deployment_id] = deployment
        return deployment

    def last_successful(self, group: dict) -> dict | None:
        done = [d for d in self.deployments.values() if _same_group(d, group) and d["status"] == "Succeeded"]
        return max(done, key=lambda d: d["completeTime"], default=None)

    def complete(
        self, deployment: dict, status: str, *, error: dict | None = None, rollback: dict | None = None, overview=None
    ) -> None:
        with self.lock:
            deployment["status"] = status
            deployment["completeTime"] = time.time()
            if error:
                deployment["errorInformation"] = error
            if rollback:
                deployment["rollbackInfo"] = {**deployment.get("rollbackInfo", {}), **rollback}
            if overview:
                deployment["deploymentOverview"] = overview
            group = self.group_of(deployment)
            if group is not None:
                group["lastAttemptedDeployment"] = _summary(deployment)
                if status == "Succeeded":
                    group["lastSuccessfulDeployment"] = _summary(deployment)

    def update(self, deployment: dict, **fields: Any) -> None:
        with self.lock:
            deployment.update(fields)

    # -- lookups ------------------------------------------------------------------------------------------------

    def application(self, name: str) -> dict:
        if name not in self.applications:
            raise ApiError("ApplicationDoesNotExistException", f"No application found for name: {name}")
        return self.applications[name]

    def group(self, application: str, name: str) -> dict:
        self.application(application)
        if (application, name) not in self.groups:
            raise ApiError("DeploymentGroupDoesNotExistException", f"No Deployment Group found for name: {name}")
        return self.groups[(application, name)]

    def group_of(self, deployment: dict) -> dict | None:
        """The deployment's group, unless it was deleted (or renamed) since."""
        return self.groups.get((deployment["applicationName"], deployment["deploymentGroupName"]))

    def deployment(self, deployment_id: str) -> dict:
        if deployment_id not in self.deployments:
            raise ApiError("DeploymentDoesNotExistException", f"The deployment {deployment_id} could not be found")
        return self.deployments[deployment_id]


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
