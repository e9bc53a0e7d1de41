"""One deployment's run through the EC2/Server blue/green lifecycle, in a thread of its own."""

from __future__ import annotations

import io
import threading
import time
import zipfile
from collections.abc import Callable
from typing import TYPE_CHECKING

import yaml
from botocore.exceptions import ClientError

from dojangkok_local.aws.codedeploy.exceptions import DeploymentFailure, DeploymentStopped
from dojangkok_local.aws.codedeploy.fleets import Fleet

if TYPE_CHECKING:
    from dojangkok_local.aws.codedeploy.models import CodeDeploy

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


class DeploymentRun:
    """InProgress through the events to Succeeded, or Failed / Stopped and rolled back; each step takes scaled time."""

    def __init__(self, service: CodeDeploy, deployment: dict) -> None:
        self.service = service
        self.fleets = service.fleets
        self.deployment = deployment

    def start(self) -> None:
        threading.Thread(target=self._run, name=self.deployment["deploymentId"], daemon=True).start()

    def _run(self) -> None:
        deployment = self.deployment
        fleet: Fleet | None = None
        try:
            self._pause()
            self.service.update(deployment, status="InProgress", startTime=time.time())
            settings = self._check_revision()
            fleet = self._provision_green()
            actions: dict[str, Callable[[], None]] = {
                "ValidateService": lambda: self._validate_green(fleet, settings),
                "AllowTraffic": lambda: self.fleets.reroute(deployment["_region"], fleet),
            }
            if self.service.traffic is not None:  # the revision's own hooks run on the instances, and decide
                for event in INSTALL_EVENTS:
                    actions[event] = self._hooks(fleet, event)
            for event in INSTALL_EVENTS:
                self._event(event, actions.get(event))
            self._wait_until_ready()
            for event in TRAFFIC_EVENTS:
                self._event(event, actions.get(event))
            self._terminate_blue(fleet)
            self._succeed(fleet)
        except DeploymentStopped:
            if self._current():
                self._finish_stopped(fleet or deployment.get("_fleet"))
        except DeploymentFailure as failure:
            if self._current():
                self._finish_failed(fleet or deployment.get("_fleet"), failure.code, failure.message)
        except Exception as error:  # the emulator's own bug or moto's: surface it as CodeDeploy would
            if self._current():
                message = f"emulator error: {error!r}"
                self._finish_failed(fleet or deployment.get("_fleet"), "INTERNAL_ERROR", message)

    def _current(self) -> bool:
        """False once the emulator was reset: a run from before it must leave the new records alone."""
        return self.deployment["_generation"] == self.service.generation

    def _pause(self, seconds: float | None = None) -> None:
        """One lifecycle step of (scaled) time; a stop request interrupts it."""
        if self.deployment["_stop"].wait(self.service.timing.step_seconds if seconds is None else seconds):
            raise DeploymentStopped
        if not self._current():
            raise DeploymentStopped

    def _event(self, event: str, action: Callable[[], None] | None = None) -> None:
        """One lifecycle event on the green instances, recorded for BatchGetDeploymentTargets."""
        record = {"lifecycleEventName": event, "status": "InProgress", "startTime": time.time()}
        with self.service.lock:
            self.deployment["_events"].append(record)
        try:
            self._pause()
            if action:
                action()
        except DeploymentFailure:
            record.update(status="Failed", endTime=time.time())
            raise
        except DeploymentStopped:
            record.update(status="Skipped", endTime=time.time())
            raise
        record.update(status="Succeeded", endTime=time.time())

    def _hooks(self, fleet: Fleet, event: str) -> Callable[[], None]:
        deployment = self.deployment

        def run() -> None:
            from dojangkok_local.aws.traffic import HookFailed  # only when instances really run the release

            try:
                self.service.traffic.run_event(
                    deployment,
                    event,
                    deployment["_bundle"],
                    self.fleets.instances(deployment["_region"], fleet.green_asg),
                )
            except HookFailed as error:
                raise DeploymentFailure(
                    "HEALTH_CONSTRAINTS" if event == "ValidateService" else "SCRIPT_FAILED",
                    f"The overall deployment failed because too many individual instances failed deployment: {error}",
                ) from error

        return run

    def _check_revision(self) -> dict[str, str]:
        """Download the bundle from S3 like the agent would; a missing or malformed revision fails the deployment."""
        deployment = self.deployment
        location = deployment["revision"]["s3Location"]
        try:
            s3 = self.fleets.client("s3", deployment["_region"])
            body = s3.get_object(Bucket=location["bucket"], Key=location["key"])
        except ClientError as error:
            raise DeploymentFailure(
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
                        raise DeploymentFailure(
                            "INVALID_REVISION", f"{event} script {script['location']} is not in the bundle"
                        )
            settings = {}
            if "release.env" in names:
                for line in bundle.read("release.env").decode().splitlines():
                    key, sep, value = line.partition("=")
                    if sep and not key.startswith("#"):
                        settings[key.strip()] = value.strip().strip("'\"")
            return settings
        except (zipfile.BadZipFile, KeyError, yaml.YAMLError, AttributeError, TypeError) as error:
            raise DeploymentFailure(
                "INVALID_REVISION", f"The revision is not a valid CodeDeploy bundle: {error!r}"
            ) from error

    def _provision_green(self) -> Fleet:
        """The green fleet, a copy of the group's one Auto Scaling group; its instances become the targets."""
        deployment = self.deployment
        group = self.service.group(deployment["applicationName"], deployment["deploymentGroupName"])
        blue_names = [g["name"] for g in group.get("autoScalingGroups", [])]
        style = deployment.get("deploymentStyle") or {}
        if style.get("deploymentType") != "BLUE_GREEN":
            raise DeploymentFailure(
                "MISSING_BLUE_GREEN_DEPLOYMENT_CONFIGURATION", "Only BLUE_GREEN deployments are emulated"
            )
        fleet_option = (deployment.get("blueGreenDeploymentConfiguration") or {}).get("greenFleetProvisioningOption")
        if (fleet_option or {}).get("action") != "COPY_AUTO_SCALING_GROUP" or not blue_names:
            raise DeploymentFailure(
                "AUTO_SCALING_CONFIGURATION", "Green fleet must be a copy of exactly one Auto Scaling group"
            )
        fleet = self.fleets.copy_blue(deployment, blue_names)
        with self.service.lock:
            deployment["_fleet"] = fleet
            instances = self.fleets.instances(deployment["_region"], fleet.green_asg)
            deployment["targetInstances"] = {"autoScalingGroups": [fleet.green_asg]}
            deployment["_targets"] = instances
            deployment["deploymentOverview"] = deployment_overview(InProgress=len(instances))
        if self.service.traffic is not None:
            self.service.traffic.launch(instances)
        return fleet

    def _validate_green(self, fleet: Fleet, settings: dict[str, str]) -> None:
        """ValidateService without real instances: the green health the control endpoint set for the group."""
        deployment = self.deployment
        with self.service.lock:
            health = self.service.green_health.get((deployment["applicationName"], deployment["deploymentGroupName"]))
        health = health or "healthy"
        url = f"http://127.0.0.1:{settings.get('PORT', '?')}{settings.get('HEALTH_PATH', '/')}"
        if health == "hang":
            while True:  # the hook never returns; only StopDeployment (or its own timeout) ends it
                self._pause()
        if health == "unhealthy":
            instance = next(iter(self.fleets.instances(deployment["_region"], fleet.green_asg)), "i-unknown")
            raise DeploymentFailure(
                "HEALTH_CONSTRAINTS",
                f"The overall deployment failed because too many individual instances failed deployment: "
                f"ValidateService on {instance} ({fleet.green_asg}) got no healthy answer from {url}",
            )

    def _wait_until_ready(self) -> None:
        """Ready until ContinueDeployment if the group says STOP_DEPLOYMENT; past the wait, stopped and rolled back."""
        deployment = self.deployment
        ready = (deployment.get("blueGreenDeploymentConfiguration") or {}).get("deploymentReadyOption") or {}
        if ready.get("actionOnTimeout") != "STOP_DEPLOYMENT":
            return
        self.service.update(deployment, status="Ready")
        timing = self.service.timing
        wait = ready.get("waitTimeInMinutes", 0) * timing.minute_seconds
        deadline = time.monotonic() + wait
        while not deployment["_continue"].is_set():
            if time.monotonic() >= deadline:
                deployment["_stop_rollback"] = True
                raise DeploymentStopped
            self._pause(min(timing.step_seconds, max(deadline - time.monotonic(), 0.001)))
        self.service.update(deployment, status="InProgress")

    def _terminate_blue(self, fleet: Fleet) -> None:
        deployment = self.deployment
        option = (deployment.get("blueGreenDeploymentConfiguration") or {}).get(
            "terminateBlueInstancesOnDeploymentSuccess"
        ) or {}
        if option.get("action") != "TERMINATE":
            return
        self.service.update(deployment, instanceTerminationWaitTimeStarted=True)
        self._pause(option.get("terminationWaitTimeInMinutes", 0) * self.service.timing.minute_seconds)
        for name in fleet.blue_asgs:
            self.fleets.delete(deployment["_region"], name, fleet.blue_tgs)

    def _succeed(self, fleet: Fleet) -> None:
        """Green is the group's fleet from now on: the next deployment copies it."""
        deployment = self.deployment
        with self.service.lock:
            count = len(self.fleets.instances(deployment["_region"], fleet.green_asg))
            group = self.service.group_of(deployment)
            if group is not None:
                group["autoScalingGroups"] = [
                    {"name": fleet.green_asg, "hook": f"CodeDeploy-managed-{fleet.green_asg}"}
                ]
            self.service.complete(deployment, "Succeeded", overview=deployment_overview(Succeeded=count))

    def _finish_failed(self, fleet: Fleet | None, code: str, message: str) -> None:
        rollback = self.deployment.get("autoRollbackConfiguration") or {}
        if rollback.get("enabled") and "DEPLOYMENT_FAILURE" in (rollback.get("events") or []):
            self._roll_back(fleet, "Failed", code, message)
        else:
            self.service.complete(self.deployment, "Failed", error={"code": code, "message": message})

    def _finish_stopped(self, fleet: Fleet | None) -> None:
        message = "The deployment was stopped on request"
        if self.deployment["_stop_rollback"]:
            self._roll_back(fleet, "Stopped", "MANUAL_STOP", message)
        else:
            self.service.complete(self.deployment, "Stopped", error={"code": "MANUAL_STOP", "message": message})

    def _roll_back(self, fleet: Fleet | None, status: str, code: str, message: str) -> None:
        """Traffic back to blue, green removed; through a rollback deployment when there is a revision to return to."""
        deployment, service = self.deployment, self.service
        error = {"code": code, "message": message}
        with service.lock:
            group = service.group_of(deployment)
            last = service.last_successful(group) if group else None
        if last is None or group is None:
            try:
                self.fleets.restore_blue(deployment["_region"], fleet)
            except Exception as restore_error:  # still finish the record, saying what was left behind
                message += f"; cleaning up green failed: {restore_error!r}"
                error["message"] = message
            service.complete(
                deployment,
                status,
                error=error,
                rollback={"rollbackMessage": "No previous successful revision; the original instances kept serving"},
            )
            return
        with service.lock:
            rollback = service.new_deployment(group, last["revision"], creator="codeDeployRollback", description=None)
            rollback["rollbackInfo"] = {"rollbackTriggeringDeploymentId": deployment["deploymentId"]}
            rollback["status"] = "InProgress"
            rollback["startTime"] = time.time()
            service.complete(
                deployment,
                status,
                error=error,
                rollback={
                    "rollbackDeploymentId": rollback["deploymentId"],
                    "rollbackMessage": f"Rolling back to {location(last['revision'])} in {rollback['deploymentId']}",
                },
            )
        try:
            time.sleep(service.timing.step_seconds)
            self.fleets.restore_blue(rollback["_region"], fleet)
            service.complete(rollback, "Succeeded")
        except Exception as error:  # keep the record honest if moto refuses
            service.complete(rollback, "Failed", error={"code": "INTERNAL_ERROR", "message": repr(error)})


def deployment_overview(**counts: int) -> dict:
    """A deployment's deploymentOverview: how many instances are in each state."""
    return {k: counts.get(k, 0) for k in ("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready")}


def location(revision: dict) -> str:
    s3 = revision.get("s3Location") or {}
    return f"s3://{s3.get('bucket')}/{s3.get('key')}"
