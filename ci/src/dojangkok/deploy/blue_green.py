"""CodeDeploy EC2 Blue/Green for the AWS services (frontend, backend), over boto3 clients the caller hands in.

One deploy: check the deployment group really is Blue/Green with traffic control and auto-rollback, zip
`deploy/aws/` plus a `release.env` naming the image by digest, upload it to S3, `create_deployment`, then poll with
exponential backoff until CodeDeploy finishes. On timeout the deployment is stopped with rollback, so traffic never
stays on a half-validated green fleet. Production and the local emulator run this same code; only the clients'
endpoint differs.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import logging
import re
import shlex
import time
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from dojangkok.catalogue import Cloud, Service, Strategy
from dojangkok.deploy import DeployError, DeployResult, Outcome
from dojangkok.deploy.calls import BLUE_GREEN
from dojangkok.deploy.common import IMAGE_BY_DIGEST, Backoff, PlannedCall, catalogue_entry, parse_image

log = logging.getLogger(__name__)

STRATEGY = "codedeploy-blue-green"
BUNDLE_FILES = ("appspec.yml", "hooks/")  # what of deploy/aws/ goes into a revision; examples and rc files stay out
REQUIRED_HOOKS = ("BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService")

NAME = re.compile(r"^[A-Za-z0-9._+-]{1,100}$")  # CodeDeploy application / deployment group names
BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")

ACTIVE = frozenset({"Created", "Queued", "InProgress", "Baking", "Ready"})
TERMINAL = frozenset({"Succeeded", "Failed", "Stopped"})
POLL_BACKOFF = Backoff(initial=5.0, factor=2.0, maximum=30.0)  # GetDeployment polls: 5, 10, 20, 30, 30, … seconds


# --- clients -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsClients:
    """The boto3 clients the driver uses. s3 and codedeploy are required; the others only read state."""

    s3: Any
    codedeploy: Any
    autoscaling: Any = None
    elbv2: Any = None


def aws_clients(
    region: str,
    endpoint_url: str | None = None,
    *,
    session: boto3.Session | None = None,
    max_attempts: int = 10,
    retry_mode: str = "adaptive",
) -> AwsClients:
    """Clients with botocore's own retry handling for throttling and transient errors.

    `endpoint_url` is the only difference between production (None: the real regional endpoints) and the local
    emulator (`http://127.0.0.1:PORT`). Credentials come from the session's standard chain (OIDC role in CI).
    """
    session = session or boto3.Session()
    config = Config(
        region_name=region,
        retries={"mode": retry_mode, "max_attempts": max_attempts},
        connect_timeout=10,
        read_timeout=60,
        # Emulators answer on one host:port, so path-style there; AWS itself gets its default virtual-hosted style.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )

    def client(name: str) -> Any:
        return session.client(name, region_name=region, endpoint_url=endpoint_url, config=config)

    return AwsClients(
        s3=client("s3"),
        codedeploy=client("codedeploy"),
        autoscaling=client("autoscaling"),
        elbv2=client("elbv2"),
    )


# One counter per deploy/rollback run; a context variable so concurrent runs on shared clients count apart.
_calls: contextvars.ContextVar[Counter[str] | None] = contextvars.ContextVar("dojangkok_aws_calls", default=None)


def _count_call(model: Any = None, **_: Any) -> None:
    counter = _calls.get()
    if counter is not None and model is not None:
        counter[f"{model.service_model.service_name}.{model.name}"] += 1


def _attach_counter(client: Any) -> None:
    if client is not None:
        client.meta.events.register("before-call.*.*", _count_call, unique_id="dojangkok-count-calls")


# --- the bundle --------------------------------------------------------------------------------------------------


def blue_green_service(service: Service | str) -> Service:
    """The catalogue entry, refusing anything that is not an AWS Blue/Green service."""
    entry = catalogue_entry(service)
    if entry.cloud is not Cloud.AWS or entry.strategy is not Strategy.BLUE_GREEN:
        raise DeployError(
            f"{entry.name} is not deployed with CodeDeploy Blue/Green (it is {entry.cloud} {entry.strategy}); "
            "only frontend and backend are: pass --service frontend or --service backend"
        )
    if not entry.health_path.startswith("/"):
        raise DeployError(f"{entry.name} has no health path in the catalogue; add health_path to its entry")
    return entry


def release_env(service: Service, image: str) -> str:
    """The settings the hooks read: written into the bundle, sourced by bash (so every value is shell-quoted)."""
    cpus = f"{service.cpus:g}"
    values = {
        "SERVICE": service.name,
        "IMAGE": image,
        "PORT": str(service.port),
        "HEALTH_PATH": service.health_path,
        "MEMORY_MIB": str(service.memory_mib),
        "CPUS": cpus,
        "HEALTH_ATTEMPTS": "30",
        "HEALTH_INTERVAL_SECONDS": "5",
    }
    lines = ["# Written by the Dojangkok pipeline; read by hooks/common.sh."]
    lines += [f"{key}={shlex.quote(value)}" for key, value in values.items()]
    return "\n".join(lines) + "\n"


def build_bundle(service: Service, image: str, source: Path) -> bytes:
    """The revision zip: appspec.yml, hooks/ and release.env. Byte-for-byte reproducible for the same inputs,
    so the S3 key (its hash) is stable and re-deploying the same release uploads the same object."""
    appspec = source / "appspec.yml"
    if not appspec.is_file():
        raise DeployError(f"{appspec} is missing: the CodeDeploy bundle is built from deploy/aws/ in the repository")
    text = appspec.read_text()
    missing = [hook for hook in REQUIRED_HOOKS if f"{hook}:" not in text]
    if missing:
        raise DeployError(f"{appspec} has no {', '.join(missing)} hook; every release must pull, start and validate")

    files: list[Path] = [appspec]
    for entry in BUNDLE_FILES[1:]:
        files += sorted(p for p in (source / entry).rglob("*") if p.is_file())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        for path in files:
            _add(bundle, path.relative_to(source).as_posix(), path.read_bytes(), executable=path.suffix == ".sh")
        _add(bundle, "release.env", release_env(service, image).encode(), executable=False)
    return buffer.getvalue()


def _add(bundle: zipfile.ZipFile, name: str, data: bytes, *, executable: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))  # fixed time: reproducible bytes
    info.compress_type = zipfile.ZIP_DEFLATED
    info.create_system = 3  # unix, so the mode bits below are honoured by the CodeDeploy agent
    info.external_attr = (0o100755 if executable else 0o100644) << 16
    bundle.writestr(info, data)


def bundle_key(service: Service, image: str, bundle: bytes, prefix: str = "revisions") -> str:
    digest = parse_image(image).hex
    return f"{prefix.strip('/')}/{service.name}/{digest[:12]}-{hashlib.sha256(bundle).hexdigest()[:12]}.zip"


# --- the deployment group ----------------------------------------------------------------------------------------


def group_problems(info: dict) -> list[str]:
    """Why a deployment group cannot take a safe Blue/Green deploy; empty when it can."""
    problems = []
    if info.get("computePlatform", "Server") != "Server":
        problems.append(f"compute platform is {info['computePlatform']}, expected Server (EC2)")
    style = info.get("deploymentStyle") or {}
    if style.get("deploymentType") != "BLUE_GREEN":
        problems.append(f"deploymentType is {style.get('deploymentType', 'IN_PLACE')}, expected BLUE_GREEN")
    option = style.get("deploymentOption", "WITHOUT_TRAFFIC_CONTROL")
    if option != "WITH_TRAFFIC_CONTROL":
        problems.append(f"deploymentOption is {option}, expected WITH_TRAFFIC_CONTROL")
    blue_green = info.get("blueGreenDeploymentConfiguration") or {}
    fleet = (blue_green.get("greenFleetProvisioningOption") or {}).get("action", "DISCOVER_EXISTING")
    if fleet != "COPY_AUTO_SCALING_GROUP":
        problems.append(f"green fleet provisioning is {fleet}, expected COPY_AUTO_SCALING_GROUP")
    terminate = (blue_green.get("terminateBlueInstancesOnDeploymentSuccess") or {}).get("action", "KEEP_ALIVE")
    if terminate != "TERMINATE":
        problems.append(f"blue instances on success: {terminate}, expected TERMINATE")
    if not info.get("autoScalingGroups"):
        problems.append("no Auto Scaling group to copy the green fleet from")
    balancer = info.get("loadBalancerInfo") or {}
    pairs = balancer.get("targetGroupPairInfoList") or []
    if not balancer.get("targetGroupInfoList") and not any(len(p.get("targetGroups") or []) == 2 for p in pairs):
        problems.append("no ALB target group (loadBalancerInfo.targetGroupInfoList or a blue/green target group pair)")
    rollback = info.get("autoRollbackConfiguration") or {}
    if not rollback.get("enabled") or "DEPLOYMENT_FAILURE" not in (rollback.get("events") or []):
        problems.append("automatic rollback on DEPLOYMENT_FAILURE is off")
    return problems


def _fix_command(application: str, group: str) -> str:
    return (
        f"aws deploy update-deployment-group --application-name {application} "
        f"--current-deployment-group-name {group} "
        "--deployment-style deploymentType=BLUE_GREEN,deploymentOption=WITH_TRAFFIC_CONTROL "
        "--blue-green-deployment-configuration "
        "'greenFleetProvisioningOption={action=COPY_AUTO_SCALING_GROUP},"
        "terminateBlueInstancesOnDeploymentSuccess={action=TERMINATE,terminationWaitTimeInMinutes=5},"
        "deploymentReadyOption={actionOnTimeout=CONTINUE_DEPLOYMENT}' "
        "--auto-rollback-configuration enabled=true,events=DEPLOYMENT_FAILURE,DEPLOYMENT_STOP_ON_REQUEST "
        "--load-balancer-info targetGroupInfoList=[{name=TARGET_GROUP}]"
    )


# --- the driver --------------------------------------------------------------------------------------------------


class BlueGreen:
    """CodeDeploy EC2 Blue/Green deploys and rollbacks of the AWS services.

    `sleep` and `clock` are injectable so tests run the real waiting logic in milliseconds.
    """

    strategy = STRATEGY
    strategy_calls = BLUE_GREEN

    def __init__(
        self,
        clients: AwsClients,
        *,
        bucket: str,
        key_prefix: str = "revisions",
        timeout: float = 1800.0,
        stop_timeout: float = 600.0,
        backoff: Backoff = POLL_BACKOFF,
        bundle_dir: Path | None = None,  # deploy/aws of the source: what a revision bundles
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        progress: Callable[[str], None] = log.info,
    ) -> None:
        if not BUCKET.match(bucket):
            raise DeployError(f"S3 bucket {bucket!r} is not a valid bucket name; set the revisions bucket for the env")
        self.clients = clients
        self.bucket = bucket
        self.key_prefix = key_prefix
        self.timeout = timeout
        self.stop_timeout = stop_timeout
        self.backoff = backoff
        self.bundle_dir = bundle_dir
        self._sleep = sleep
        self._clock = clock
        self._progress = progress
        for client in (clients.s3, clients.codedeploy, clients.autoscaling, clients.elbv2):
            _attach_counter(client)

    # -- public -------------------------------------------------------------------------------------------------

    def plan(self, service: Service | str, image: str, *, application: str, deployment_group: str) -> list[PlannedCall]:
        """The API calls `deploy` would make, in order. Validates everything and builds the bundle; calls nothing."""
        entry, key, _ = self._prepare(service, image, application, deployment_group)
        group = {"applicationName": application, "deploymentGroupName": deployment_group}
        target = f"{application}/{deployment_group}"
        revision = f"s3://{self.bucket}/{key}"
        polls = f"polled with backoff {self.backoff.initial:g}s..{self.backoff.maximum:g}s up to {self.timeout:g}s"
        details = [  # target, summary and body of each of strategy_calls' deploy, then of its failure
            (target, "refuse unless BLUE_GREEN + traffic control", group),
            ("<last successful>", "what serves now", None),
            (revision, f"{entry.name} revision bundle", {"Bucket": self.bucket, "Key": key}),
            (target, f"deploy {revision}", {**group, "revision": revision}),
            ("<new>", polls, None),
            ("<new>", "only on timeout", {"autoRollbackEnabled": True}),
        ]
        apis = (*self.strategy_calls.deploy, self.strategy_calls.failure)
        return [PlannedCall(api, *detail) for api, detail in zip(apis, details, strict=True)]

    def deploy(self, service: Service | str, image: str, *, application: str, deployment_group: str) -> DeployResult:
        """Roll `image` (by digest) out to the service's deployment group and wait for CodeDeploy to finish."""
        entry, key, bundle = self._prepare(service, image, application, deployment_group)
        target = f"{application}/{deployment_group}"
        with _Run() as run:
            started = self._clock()
            info = self._checked_group(application, deployment_group)
            previous = self._last_successful_revision(info)
            self._progress(f"{entry.name}: uploading revision s3://{self.bucket}/{key}")
            self._call(
                self.clients.s3.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=bundle,
                ContentType="application/zip",
                Metadata={"service": entry.name, "image": image},
            )
            revision = _revision(f"s3://{self.bucket}/{key}")
            outcome, detail = self._run_deployment(
                entry, application, deployment_group, revision, f"{entry.name} {image}", started
            )
            new = _location(revision) if outcome is Outcome.SUCCEEDED else previous
            return DeployResult(
                service=entry.name,
                strategy=STRATEGY,
                target=target,
                image=image,
                previous=previous,
                new=new,
                outcome=outcome,
                seconds=round(self._clock() - started, 3),
                detail=detail,
                api_calls=run.counts(),
            )

    def current(self, service: Service | str, *, application: str, deployment_group: str) -> str:
        """The revision the group serves now (its last successful deployment's s3:// location), "" if none: what
        `restore` puts back."""
        blue_green_service(service)
        _check_names(application, deployment_group)
        with _Run():
            return self._last_successful_revision(self._checked_group(application, deployment_group))

    def rollback(self, service: Service | str, *, application: str, deployment_group: str) -> DeployResult:
        """Redeploy the release before the one serving now, through the same Blue/Green path."""
        before, _ = self.release_before(service, application=application, deployment_group=deployment_group)
        return self.restore(service, before, application=application, deployment_group=deployment_group)

    def release_before(self, service: Service | str, *, application: str, deployment_group: str
                       ) -> tuple[str, str]:
        """The release before the one serving now: the revision `restore` takes, and its image.

        Releases are ordered by when each revision first succeeded, so rolling back twice walks back two releases
        (a, b, c -> b -> a) instead of flipping between the last two.
        """
        blue_green_service(service)
        _check_names(application, deployment_group)
        target = f"{application}/{deployment_group}"
        with _Run():
            self._checked_group(application, deployment_group)
            history = self._successful_deployments(application, deployment_group)
        if not history:
            raise DeployError(f"{target} has no successful deployment yet: nothing to roll back to")
        earlier = _release_before(history)
        if earlier is None:
            raise DeployError(
                f"{target} serves {_location(history[0]['revision'])}, its first release: there is no earlier "
                "release to roll back to (deploy a digest instead)"
            )
        return _location(earlier["revision"]), _image_of(earlier)

    def restore(self, service: Service | str, previous: str, *, application: str, deployment_group: str
                ) -> DeployResult:
        """Put the group back on `previous` (a revision `current` returned) through the Blue/Green path; a group
        that serves it already is left alone. A deployment still running in the group (its caller lost track of
        it) is stopped with rollback first, so the group ends where the rollback and this restore leave it."""
        entry = blue_green_service(service)
        _check_names(application, deployment_group)
        target = f"{application}/{deployment_group}"
        with _Run() as run:
            started = self._clock()
            stopped = [self._stop(entry, deployment_id, "was still running")
                       for deployment_id in self._active(application, deployment_group)]
            now = self._last_successful_revision(self._checked_group(application, deployment_group))
            image = self._image_of_revision(application, deployment_group, previous)

            def result(outcome: Outcome, new: str, detail: str) -> DeployResult:
                notes = "; ".join(detail for _, detail in stopped)
                return DeployResult(service=entry.name, strategy=STRATEGY, target=target, image=image, previous=now,
                                    new=new, outcome=outcome, seconds=round(self._clock() - started, 3),
                                    detail="; ".join(filter(None, [notes, detail])), api_calls=run.counts())

            if now == previous:
                return result(Outcome.SUCCEEDED, now, f"{target} serves {previous or 'no release'}, as before")
            if not previous:
                return result(Outcome.FAILED, now, f"{target} served no release before, so there is none to put "
                              "back: deploy a known-good image by digest")
            self._progress(f"{entry.name}: putting {target} back from {now or 'no release'} on {previous}")
            outcome, detail = self._run_deployment(
                entry, application, deployment_group, _revision(previous), f"{entry.name} rollback to {image}",
                started,
            )
            return result(outcome, previous if outcome is Outcome.SUCCEEDED else now, detail)

    def serving(self, service: Service | str, *, application: str, deployment_group: str) -> str:
        """The image (by digest) of the group's last successful deployment, or "" if it has none."""
        blue_green_service(service)
        _check_names(application, deployment_group)
        with _Run():
            history = self._successful_deployments(application, deployment_group)
        return _image_of(history[0]) if history else ""

    # -- steps --------------------------------------------------------------------------------------------------

    def _prepare(
        self, service: Service | str, image: str, application: str, deployment_group: str
    ) -> tuple[Service, str, bytes]:
        """Every check that needs no cloud: runs before the first API call."""
        entry = blue_green_service(service)
        parse_image(image)
        _check_names(application, deployment_group)
        if self.bundle_dir is None:
            raise DeployError("no bundle directory: pass bundle_dir, the deploy/aws folder of the source")
        bundle = build_bundle(entry, image, self.bundle_dir)
        return entry, bundle_key(entry, image, bundle, self.key_prefix), bundle

    def _checked_group(self, application: str, group: str) -> dict:
        try:
            info = self._call(
                self.clients.codedeploy.get_deployment_group, applicationName=application, deploymentGroupName=group
            )["deploymentGroupInfo"]
        except DeployError as error:
            if "DoesNotExist" in str(error):
                raise DeployError(
                    f"CodeDeploy deployment group {group!r} of application {application!r} does not exist in this "
                    "account/region: create it (see deploy/aws/) or fix the group name in the environment settings"
                ) from error
            raise
        problems = group_problems(info)
        if problems:
            raise DeployError(
                f"refusing to deploy: deployment group {group!r} of {application!r} is not a safe Blue/Green group: "
                + "; ".join(problems)
                + f". Fix it with: {_fix_command(application, group)}"
            )
        return info

    def _last_successful_revision(self, info: dict) -> str:
        last = (info.get("lastSuccessfulDeployment") or {}).get("deploymentId")
        if not last:
            return ""
        deployment = self._call(self.clients.codedeploy.get_deployment, deploymentId=last)["deploymentInfo"]
        return _location(deployment.get("revision") or {})

    def _successful_deployments(self, application: str, group: str) -> list[dict]:
        """Succeeded deployments of the group, newest first."""
        ids: list[str] = []
        kwargs: dict[str, Any] = {
            "applicationName": application,
            "deploymentGroupName": group,
            "includeOnlyStatuses": ["Succeeded"],
        }
        while True:
            page = self._call(self.clients.codedeploy.list_deployments, **kwargs)
            ids += page.get("deployments", [])
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        infos: list[dict] = []
        for start in range(0, len(ids), 25):  # BatchGetDeployments takes at most 25 ids
            chunk = ids[start : start + 25]
            infos += self._call(self.clients.codedeploy.batch_get_deployments, deploymentIds=chunk)["deploymentsInfo"]
        return sorted(infos, key=lambda d: d["createTime"], reverse=True)

    def _run_deployment(
        self, service: Service, application: str, group: str, revision: dict, description: str, started: float
    ) -> tuple[Outcome, str]:
        deployment_id = self._call(
            self.clients.codedeploy.create_deployment,
            applicationName=application,
            deploymentGroupName=group,
            revision=revision,
            description=description,
            fileExistsBehavior="OVERWRITE",
        )["deploymentId"]
        self._progress(f"{service.name}: deployment {deployment_id} created in {application}/{group}")
        deadline = started + self.timeout
        info = self._wait(service, deployment_id, deadline, continue_when_ready=True)
        if info is None:
            return self._stop(service, deployment_id, f"timed out after {self.timeout:g}s")
        return self._judge(service, info)

    def _wait(self, service: Service, deployment_id: str, deadline: float, *, continue_when_ready: bool) -> dict | None:
        """Poll until the deployment ends; None if the deadline passes first."""
        delays = self.backoff.delays()
        status = ""
        while True:
            info = self._call(self.clients.codedeploy.get_deployment, deploymentId=deployment_id)["deploymentInfo"]
            if info["status"] != status:
                status = info["status"]
                self._progress(f"{service.name}: {deployment_id} {status}{_overview(info)}")
            if status in TERMINAL:
                return info
            if status == "Ready" and continue_when_ready:
                # The group waits for a go-ahead before rerouting; the pipeline already validated green.
                self._call(
                    self.clients.codedeploy.continue_deployment,
                    deploymentId=deployment_id,
                    deploymentWaitType="READY_WAIT",
                )
            remaining = deadline - self._clock()
            if remaining <= 0:
                return None
            self._sleep(min(next(delays), remaining))

    def _stop(self, service: Service, deployment_id: str, why: str) -> tuple[Outcome, str]:
        """Stop a deployment with rollback and wait for both; `why` it is stopped goes into the detail."""
        self._progress(f"{service.name}: {deployment_id} {why}; stopping with rollback")
        try:
            self._call(self.clients.codedeploy.stop_deployment, deploymentId=deployment_id, autoRollbackEnabled=True)
        except DeployError as error:
            if "AlreadyCompleted" not in str(error):
                return Outcome.FAILED, f"{deployment_id} {why} and could not be stopped: {error}"
        info = self._wait(service, deployment_id, self._clock() + self.stop_timeout, continue_when_ready=False)
        if info is None:
            return Outcome.FAILED, (
                f"{deployment_id} {why} and did not stop within {self.stop_timeout:g}s: check it with "
                f"`aws deploy get-deployment --deployment-id {deployment_id}`"
            )
        if info["status"] == "Succeeded":  # it finished while we were stopping it
            return Outcome.SUCCEEDED, f"{deployment_id} {why} and succeeded before it could be stopped"
        outcome, detail = self._judge(service, info)
        return outcome, f"{deployment_id} {why} and was stopped; {detail}"

    def _active(self, application: str, group: str) -> list[str]:
        """Deployments of the group that have not ended."""
        page = self._call(self.clients.codedeploy.list_deployments, applicationName=application,
                          deploymentGroupName=group, includeOnlyStatuses=sorted(ACTIVE))
        return list(page.get("deployments", []))

    def _image_of_revision(self, application: str, group: str, location: str) -> str:
        """The image a revision rolls out, from the deployment that rolled it out; the location if none did."""
        deployments = self._successful_deployments(application, group)
        return next((_image_of(d) for d in deployments if _location(d["revision"]) == location), location)

    def _judge(self, service: Service, info: dict) -> tuple[Outcome, str]:
        deployment_id = info["deploymentId"]
        status = info["status"]
        if status == "Succeeded":
            green = ", ".join((info.get("targetInstances") or {}).get("autoScalingGroups") or []) or "green fleet"
            return Outcome.SUCCEEDED, f"{deployment_id} succeeded: {green} serves, blue terminated after the wait"
        error = info.get("errorInformation") or {}
        reason = f"{deployment_id} {status.lower()}: {error.get('code', 'UNKNOWN')} {error.get('message', '')}".strip()
        rollback = info.get("rollbackInfo") or {}
        if not rollback:
            return Outcome.FAILED, (
                f"{reason}; no rollback happened, so check which fleet serves traffic "
                f"(`aws deploy get-deployment --deployment-id {deployment_id}`)"
            )
        rollback_id = rollback.get("rollbackDeploymentId")
        if rollback_id:
            done = self._wait(service, rollback_id, self._clock() + self.stop_timeout, continue_when_ready=False)
            if done is None or done["status"] != "Succeeded":
                state = "did not finish" if done is None else done["status"].lower()
                return Outcome.FAILED, f"{reason}; rollback {rollback_id} {state}: needs a person"
            return Outcome.ROLLED_BACK, f"{reason}; rolled back by {rollback_id}, traffic stayed on blue"
        return Outcome.ROLLED_BACK, f"{reason}; {rollback.get('rollbackMessage', 'rolled back')}, traffic on blue"

    def _call(self, method: Callable[..., dict], **kwargs: Any) -> dict:
        try:
            return method(**kwargs)
        except ClientError as error:
            err = error.response.get("Error", {})
            code = err.get("Code", "?")
            hint = _HINTS.get(code, "")
            message = f"{error.operation_name} failed: {code}: {err.get('Message', '')}"
            raise DeployError(message + (f" ({hint.format(bucket=self.bucket, **kwargs)})" if hint else "")) from error
        except NoCredentialsError as error:
            raise DeployError(
                "no AWS credentials: in GitHub Actions assume the environment's deploy role through OIDC "
                "(aws-actions/configure-aws-credentials); locally set AWS_PROFILE, or point the endpoint at the local "
                "emulator (python -m dojangkok_local.aws)"
            ) from error
        except BotoCoreError as error:
            raise DeployError(f"AWS call failed ({error}); check credentials, region and network") from error


# What to do about the errors people meet; formatted with the call's arguments.
_HINTS = {
    "NoSuchBucket": "create the revisions bucket {bucket} or fix bundle_bucket in deploy/environments.toml",
    "AccessDenied": "the deploy role needs s3:PutObject on {bucket} and codedeploy:* on the group",
    "AccessDeniedException": "the deploy role needs codedeploy:CreateDeployment, GetDeployment, StopDeployment",
    "DeploymentLimitExceededException": "another deployment is running in this group: wait for it, or stop it "
    "with `aws deploy stop-deployment --deployment-id <id> --auto-rollback-enabled`",
    "ApplicationDoesNotExistException": "fix codedeploy_application in deploy/environments.toml",
}


class _Run:
    """Counts the API calls of one deploy/rollback run (botocore `before-call` events)."""

    def __enter__(self) -> _Run:
        self._counter: Counter[str] = Counter()
        self._token = _calls.set(self._counter)
        return self

    def __exit__(self, *exc: object) -> None:
        _calls.reset(self._token)

    def counts(self) -> dict[str, int]:
        return dict(sorted(self._counter.items()))


def _check_names(application: str, group: str) -> None:
    for what, value in (("application", application), ("deployment group", group)):
        if not NAME.match(value or ""):
            raise DeployError(
                f"CodeDeploy {what} name {value!r} is invalid: 1-100 of letters, digits and ._+- "
                "(set it in the environment settings)"
            )


def _location(revision: dict) -> str:
    s3 = (revision or {}).get("s3Location") or {}
    return f"s3://{s3['bucket']}/{s3['key']}" if s3.get("bucket") else ""


def _revision(location: str) -> dict:
    """The S3 revision at an s3://bucket/key location (the inverse of _location)."""
    bucket, _, key = location.removeprefix("s3://").partition("/")
    return {"revisionType": "S3", "s3Location": {"bucket": bucket, "key": key, "bundleType": "zip"}}


def _release_before(history: list[dict]) -> dict | None:
    """From succeeded deployments (newest first): a deployment of the revision released just before the current one."""
    first_success: dict[str, dict] = {}
    for deployment in reversed(history):  # oldest first, so the first deployment of each revision wins
        first_success.setdefault(_location(deployment["revision"]), deployment)
    current = first_success[_location(history[0]["revision"])]
    older = [d for d in first_success.values() if d["createTime"] < current["createTime"]]
    return max(older, key=lambda d: d["createTime"], default=None)


def _image_of(deployment: dict) -> str:
    """The image a past deployment rolled out, from the description deploy wrote ("service image")."""
    parts = (deployment.get("description") or "").split()
    for part in reversed(parts):
        if IMAGE_BY_DIGEST.match(part):
            return part
    return _location(deployment.get("revision") or {})


def _overview(info: dict) -> str:
    overview = info.get("deploymentOverview") or {}
    counts = ", ".join(f"{k} {v}" for k, v in overview.items() if v)
    return f" ({counts})" if counts else ""
