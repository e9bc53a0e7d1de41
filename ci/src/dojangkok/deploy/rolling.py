"""GCP rolling update: a new instance template per release, the managed instance group switched to it.

Flow of `RollingUpdate.deploy` (§6, GCP half of DESIGN.md "Deploy"):
  1. validate the service and the image reference (by digest) and render the template: no API call yet;
  2. read the zonal managed instance group (MIG): its current template is the release to fall back to;
  3. insert a global instance template named after the group and the digest, labelled with the template it
     replaces (that label is the rollback history: templates are immutable, so it can never drift);
  4. patch the group onto it with a PROACTIVE update, maxSurge >= 1, maxUnavailable 0, minimal action REPLACE,
     keeping the health-check based auto-healing that tells a good instance from a bad one;
  5. poll the group with backoff until the version target is reached and the group is stable;
  6. on timeout, or instances of the release failing health (auto-healing keeps recreating them), patch the
     group back onto the previous template and wait for that: Outcome.ROLLED_BACK.

The google-cloud-compute clients are handed in (`gcp_clients` builds them for production or for the local fake),
so the same code runs against GCP and the emulator. Transient errors are retried with google-api-core's Retry.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from google.api_core import exceptions as gexc

from dojangkok import catalogue, machines
from dojangkok.catalogue import Service, Strategy
from dojangkok.deploy import DeployError, DeployResult, Outcome
from dojangkok.deploy.calls import (
    GLOBAL_OPERATIONS_WAIT,
    GROUPS_GET,
    GROUPS_PATCH,
    ROLLING,
    TEMPLATES_GET,
    TEMPLATES_INSERT,
    TEMPLATES_LIST,
    ZONE_OPERATIONS_WAIT,
)
from dojangkok.deploy.common import Backoff, GoogleApiCalls, ImageRef, PlannedCall, catalogue_entry, parse_image

STRATEGY = "rolling"
RESOURCE_NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")

LABEL_SERVICE = "dojangkok-service"
LABEL_GROUP = "dojangkok-group"
LABEL_PREVIOUS = "dojangkok-previous"  # the template this release replaced: the rollback history
LABEL_RELEASE = "dojangkok-release"  # the unique tag (dev-…/prod-…), label-safe
LABEL_DIGEST = "dojangkok-digest"  # the first 32 hex digits of the image digest
METADATA_IMAGE = "dojangkok-image"  # the full reference, on the template (labels are too short for it)

# Container-Optimized OS: docker, docker-credential-gcr and cos-extensions (GPU driver) on a small, patched image.
BOOT_IMAGE = "projects/cos-cloud/global/images/family/cos-stable"
# vLLM's image (CUDA, ~10 GB) plus the model weights (~12 GB, §8.3) need room; the others are small.
BOOT_DISK_GB = {"vllm": 100}
DEFAULT_BOOT_DISK_GB = 30
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
STARTUP_SCRIPT = Path("deploy/gcp/startup-script.sh")
PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")



# ---- clients ----------------------------------------------------------------------------------------------------
@dataclass
class GcpClients:
    templates: Any  # compute_v1.InstanceTemplatesClient
    groups: Any  # compute_v1.InstanceGroupManagersClient
    global_operations: Any  # compute_v1.GlobalOperationsClient: waits on template inserts
    zone_operations: Any  # compute_v1.ZoneOperationsClient: waits on group patches
    deploy: Any  # deploy_v1.CloudDeployClient


def gcp_clients(project: str, endpoint: str | None = None, credentials: Any = None) -> GcpClients:
    """REST clients for Compute and Cloud Deploy: production (ADC) by default, or a local endpoint.

    With an endpoint (the fake: http://127.0.0.1:PORT) the credentials default to anonymous ones. Compute operations
    are waited on through operations clients built here with the same options: the ExtendedOperation a plain
    insert/patch returns would poll through a client its transport builds without them (compute.googleapis.com).
    """
    from google.api_core.client_options import ClientOptions
    from google.cloud import compute_v1, deploy_v1

    if not project:
        raise DeployError("no GCP project given: set it in the environment settings (deploy/) or pass --project")
    options = None
    if endpoint:
        from google.auth.credentials import AnonymousCredentials

        options = ClientOptions(api_endpoint=endpoint)
        credentials = credentials or AnonymousCredentials()
    if credentials is None:
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=SCOPES)
        except DefaultCredentialsError as error:
            raise DeployError(
                "no Google credentials: in GitHub Actions use workload identity federation "
                "(google-github-actions/auth), locally `gcloud auth application-default login`, "
                "or point at the local fake with an endpoint"
            ) from error
    common = {"credentials": credentials, "transport": "rest", "client_options": options}
    return GcpClients(
        templates=compute_v1.InstanceTemplatesClient(**common),
        groups=compute_v1.InstanceGroupManagersClient(**common),
        global_operations=compute_v1.GlobalOperationsClient(**common),
        zone_operations=compute_v1.ZoneOperationsClient(**common),
        deploy=deploy_v1.CloudDeployClient(**common),
    )


# ---- pure helpers -----------------------------------------------------------------------------------------------
def rolling_service(name: str | Service) -> Service:
    """The catalogue entry of a service that ships by rolling update, or a DeployError naming the ones that do."""
    svc = catalogue_entry(name)
    if svc.strategy is not Strategy.ROLLING:
        rolling = ", ".join(s.name for s in catalogue.SERVICES if s.strategy is Strategy.ROLLING)
        raise DeployError(f"service {svc.name!r} ships by {svc.strategy}, not by a GCP rolling update "
                          f"(rolling: {rolling})")
    return svc


def label_value(text: str) -> str:
    """A GCP label value: lower-case letters, digits, '-' and '_', at most 63 characters."""
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:63]


def template_name(group: str, image: ImageRef) -> str:
    """One template per group and image: `{group}-{first 12 hex of the digest}`, within 63 characters."""
    return f"{group[:50].rstrip('-')}-{image.hex[:12]}"


def last_segment(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1] if url else ""


def render_startup_script(template: str, values: dict[str, str]) -> str:
    """Fill `{{ name }}` placeholders with shell-quoted values; unknown or missing names are errors."""

    def fill(match: re.Match) -> str:
        key = match.group(1)
        if key not in values:
            raise DeployError(f"startup script placeholder {{{{ {key} }}}} has no value (known: {sorted(values)})")
        return shlex.quote(str(values[key]))

    return PLACEHOLDER.sub(fill, template)


@dataclass
class _Wait:
    ok: bool
    detail: str


# ---- the driver -------------------------------------------------------------------------------------------------
@dataclass
class RollingUpdate(GoogleApiCalls):
    """Rolling update of a zonal managed instance group onto a new instance template per release.

    Plain settings and clients; `calls` counts the API calls of the last deploy/rollback, so use one instance per
    concurrent deploy (they are cheap). `sleep` and `clock` are injectable: tests pass a fake clock.
    """

    strategy = STRATEGY
    strategy_calls = ROLLING

    project: str
    zone: str
    clients: GcpClients | None  # None where only plan() is needed
    network: str = "global/networks/default"
    subnetwork: str = ""  # regions/R/subnetworks/S; private, no external address (egress through Cloud NAT)
    service_account: str = ""  # the instances' identity (pulls from Artifact Registry); "" = the project default
    health_check: str = ""  # global/healthChecks/NAME; "" keeps the group's own auto-healing policy
    initial_delay_sec: int = 300  # auto-healing grace for a booting instance (vLLM loads a 12 GB model)
    max_surge: int = 1  # extra instances during the update; maxUnavailable is always 0
    timeout: float = 1800.0  # seconds for the group to become stable on the new template
    rollback_timeout: float = 1800.0
    failing_polls: int = 3  # polls seeing auto-healing recreate instances before the release is called failed
    operation_timeout: float = 300.0
    poll_initial: float = 5.0
    poll_max: float = 30.0
    retry_initial: float = 1.0  # google-api-core Retry on transient errors (429, 500, 503)
    retry_maximum: float = 30.0
    retry_timeout: float = 120.0
    startup_template: str | None = None  # the text of deploy/gcp/startup-script.sh of the source
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    progress: Callable[[str], None] = lambda _line: None
    calls: Counter = field(default_factory=Counter, init=False)

    @property
    def templates(self) -> Any:
        return self.clients.templates

    @property
    def groups(self) -> Any:
        return self.clients.groups

    # ---- validation and rendering (no API calls) ----------------------------------------------------------------
    def _check_target(self, group: str) -> None:
        for what, value in (("project", self.project), ("zone", self.zone)):
            if not value:
                raise DeployError(f"no GCP {what} given for the rolling update: set it in the environment settings")
        if not RESOURCE_NAME.match(group or ""):
            raise DeployError(f"instance group manager name {group!r} is not a GCP resource name "
                              "(lower-case letters, digits and '-', starting with a letter, at most 63)")
        if self.max_surge < 1:
            raise DeployError(f"max_surge={self.max_surge}: a rolling update with maxUnavailable 0 needs a surge of "
                              "at least 1 instance")

    def _startup_template(self) -> str:
        if self.startup_template is None:
            raise DeployError(f"no startup script: pass startup_template, the text of {STARTUP_SCRIPT} of the source")
        return self.startup_template

    def group_path(self, group: str) -> str:
        return f"projects/{self.project}/zones/{self.zone}/instanceGroupManagers/{group}"

    def template_url(self, name: str) -> str:
        return f"projects/{self.project}/global/instanceTemplates/{name}"

    def instance_template(self, service: str | Service, image: str, *, group: str, previous: str = "") -> Any:
        """The instance template of a release (a compute_v1.InstanceTemplate), built without any API call."""
        from google.cloud import compute_v1

        svc = rolling_service(service)
        ref = parse_image(image)
        self._check_target(group)
        script = render_startup_script(
            self._startup_template(),
            {
                "service": svc.name,
                "image": ref.reference,
                "registry": ref.registry,
                "port": str(svc.port),
                "health_path": svc.health_path,
                "memory_mib": str(svc.memory_mib),
                "cpus": f"{svc.cpus:g}",
                "gpu": "true" if svc.accelerator else "false",
            },
        )
        labels = {
            LABEL_SERVICE: svc.name,
            LABEL_GROUP: label_value(group),
            LABEL_DIGEST: ref.hex[:32],
        }
        if ref.tag:
            labels[LABEL_RELEASE] = label_value(ref.tag)
        if previous:
            labels[LABEL_PREVIOUS] = label_value(previous)
        interface = compute_v1.NetworkInterface(network=self.network)  # no access config: no public address
        if self.subnetwork:
            interface.subnetwork = self.subnetwork
        properties = compute_v1.InstanceProperties(
            machine_type=svc.instance_type,
            labels=labels,
            tags=compute_v1.Tags(items=[f"dojangkok-{svc.name}"]),  # firewall: health checkers reach the port
            network_interfaces=[interface],
            disks=[
                compute_v1.AttachedDisk(
                    boot=True,
                    auto_delete=True,
                    type_="PERSISTENT",
                    initialize_params=compute_v1.AttachedDiskInitializeParams(
                        source_image=BOOT_IMAGE,
                        disk_size_gb=BOOT_DISK_GB.get(svc.name, DEFAULT_BOOT_DISK_GB),
                        disk_type="pd-balanced",
                        labels={LABEL_SERVICE: svc.name},
                    ),
                )
            ],
            metadata=compute_v1.Metadata(
                items=[
                    compute_v1.Items(key="startup-script", value=script),
                    compute_v1.Items(key=METADATA_IMAGE, value=ref.reference),
                    compute_v1.Items(key="google-logging-enabled", value="true"),
                ]
            ),
            service_accounts=[compute_v1.ServiceAccount(email=self.service_account or "default", scopes=SCOPES)],
            shielded_instance_config=compute_v1.ShieldedInstanceConfig(
                enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
            ),
        )
        if svc.accelerator:
            # GPUs cannot live-migrate: the host's maintenance stops the VM, and the MIG recreates it.
            properties.scheduling = compute_v1.Scheduling(on_host_maintenance="TERMINATE", automatic_restart=True)
            if not machines.built_in_gpu(svc):  # accelerator-optimized types (g2) come with theirs
                properties.guest_accelerators = [
                    compute_v1.AcceleratorConfig(accelerator_type=svc.accelerator, accelerator_count=1)
                ]
        return compute_v1.InstanceTemplate(
            name=template_name(group, ref),
            description=f"Dojangkok {svc.name} {ref.reference}",
            properties=properties,
        )

    def update_patch(self, template: str) -> Any:
        """The group patch that moves it onto `template` (a name): PROACTIVE, surge, nothing unavailable."""
        from google.cloud import compute_v1

        url = self.template_url(template)
        patch = compute_v1.InstanceGroupManager(
            instance_template=url,
            versions=[compute_v1.InstanceGroupManagerVersion(name=label_value(template), instance_template=url)],
            update_policy=compute_v1.InstanceGroupManagerUpdatePolicy(
                type_="PROACTIVE",
                minimal_action="REPLACE",
                most_disruptive_allowed_action="REPLACE",
                replacement_method="SUBSTITUTE",
                max_surge=compute_v1.FixedOrPercent(fixed=self.max_surge),
                max_unavailable=compute_v1.FixedOrPercent(fixed=0),
            ),
        )
        if self.health_check:
            patch.auto_healing_policies = [
                compute_v1.InstanceGroupManagerAutoHealingPolicy(
                    health_check=self.health_check, initial_delay_sec=self.initial_delay_sec
                )
            ]
        return patch

    def plan(self, service: str | Service, image: str, *, group: str) -> list[PlannedCall]:
        """The calls `deploy` would make, in order; validates like deploy and touches nothing."""
        svc = rolling_service(service)
        template = self.instance_template(svc, image, group=group, previous="current-template")
        body = type(template).to_dict(template)
        target = self.group_path(group)
        patch = self.update_patch(template.name)
        machine = svc.instance_type + (f" + {svc.accelerator}" if svc.accelerator else "")
        details = [  # target, summary and body of each of strategy_calls' deploy, then of its failure
            (target, "read the group: its current template is the one to fall back to", None),
            (self.template_url(template.name),
             f"insert template {template.name} ({machine}; labelled with the template it replaces)", body),
            (self.project, "wait for the insert", None),
            (target, f"switch the group to {template.name}: PROACTIVE, maxSurge {self.max_surge}, maxUnavailable 0, "
                     "REPLACE", type(patch).to_dict(patch)),
            (self.zone, "wait for the patch", None),
            (target, f"poll until the version target is reached and the group is stable "
                     f"(backoff {self.poll_initial:g}s..{self.poll_max:g}s, timeout {self.timeout:g}s)", None),
            (target, "only on timeout or failing health: back to the previous template", None),
        ]
        apis = (*self.strategy_calls.deploy, self.strategy_calls.failure)
        return [PlannedCall(api, *detail) for api, detail in zip(apis, details, strict=True)]

    # ---- API calls (counted and retried by GoogleApiCalls) -----------------------------------------------------
    def _get_group(self, group: str) -> Any:
        return self._call(GROUPS_GET, self.groups.get, project=self.project, zone=self.zone,
                          instance_group_manager=group)

    def _switch(self, group: str, template: str) -> None:
        operation = self._call(GROUPS_PATCH, self.groups.patch_unary, project=self.project, zone=self.zone,
                               instance_group_manager=group,
                               instance_group_manager_resource=self.update_patch(template))
        self._wait_compute(operation, f"switching {group} to {template}")

    def _wait_compute(self, operation: Any, what: str) -> None:
        """Wait for a Compute operation with its service's own `wait` method (it returns once the operation is DONE
        or after about two minutes, whichever is first), then raise the operation's error, if it has one."""
        from google.cloud import compute_v1

        deadline = self.clock() + self.operation_timeout
        zonal = bool(operation.zone)
        while operation.status != compute_v1.Operation.Status.DONE:
            if self.clock() >= deadline:
                raise DeployError(f"{what} did not finish within {self.operation_timeout:g}s (operation "
                                  f"{operation.name})")
            if zonal:
                operation = self._call(ZONE_OPERATIONS_WAIT, self.clients.zone_operations.wait, project=self.project,
                                       zone=self.zone, operation=operation.name)
            else:
                operation = self._call(GLOBAL_OPERATIONS_WAIT, self.clients.global_operations.wait,
                                       project=self.project, operation=operation.name)
        if operation.error and operation.error.errors:
            reasons = "; ".join(f"{e.code}: {e.message}" for e in operation.error.errors)
            raise DeployError(f"{what} failed: {reasons}")

    def _wait_stable(self, group: str, template: str, timeout: float) -> _Wait:
        """Poll the group until it runs `template` everywhere and is stable, or fails, or the time is up."""
        deadline = self.clock() + timeout
        delays = Backoff(self.poll_initial, 1.5, self.poll_max).delays()
        failing = 0
        while True:
            mig = self._get_group(group)
            on_target = last_segment(mig.instance_template) == template
            actions = mig.current_actions
            if on_target and mig.status.version_target.is_reached and mig.status.is_stable:
                return _Wait(True, f"{group} stable on {template}")
            failing += actions.recreating > 0
            self.progress(f"{group}: → {template}: reached={mig.status.version_target.is_reached} "
                          f"stable={mig.status.is_stable} creating={actions.creating} verifying={actions.verifying} "
                          f"recreating={actions.recreating} deleting={actions.deleting}")
            if self.failing_polls and failing >= self.failing_polls:
                return _Wait(False, f"instances of {template} are failing their health checks "
                                    f"(auto-healing recreated them on {failing} polls)")
            left = deadline - self.clock()
            if left <= 0:
                return _Wait(False, f"{group} was not stable on {template} within {timeout:g}s "
                                    f"(creating={actions.creating} verifying={actions.verifying} "
                                    f"recreating={actions.recreating})")
            self.sleep(min(next(delays), left))

    def _previous_of(self, group: str, current: str) -> str:
        """The template `current` replaced: its label, else the newest older template made for this group."""
        try:
            template = self._call(TEMPLATES_GET, self.templates.get, project=self.project, instance_template=current)
        except gexc.NotFound:
            template = None
        if template is not None and template.properties.labels.get(LABEL_PREVIOUS):
            return template.properties.labels[LABEL_PREVIOUS]
        # Made before the pipeline recorded history: fall back on creation time among this group's templates.
        listed = self._call(TEMPLATES_LIST, self.templates.list, project=self.project)
        ours = [t for t in listed if t.properties.labels.get(LABEL_GROUP) == label_value(group)
                or t.name.startswith(f"{group}-")]
        created = template.creation_timestamp if template is not None else "9999"
        older = sorted((t for t in ours if t.name != current and t.creation_timestamp < created),
                       key=lambda t: t.creation_timestamp)
        return older[-1].name if older else ""

    # ---- deploy and rollback -------------------------------------------------------------------------------------
    def deploy(self, service: str | Service, image: str, *, group: str) -> DeployResult:
        """Roll `image` (by digest) out to the group; back on the previous template if it does not become stable."""
        started = self.clock()
        self.calls = Counter()
        svc = rolling_service(service)
        self.instance_template(svc, image, group=group)  # every input checked before the first API call

        def result(outcome: Outcome, previous: str, new: str, detail: str) -> DeployResult:
            return DeployResult(service=svc.name, strategy=STRATEGY, target=self.group_path(group), image=image,
                                previous=previous, new=new, outcome=outcome, seconds=self.clock() - started,
                                detail=detail, api_calls=dict(self.calls))

        try:
            mig = self._get_group(group)
        except gexc.NotFound as error:
            raise DeployError(f"instance group manager {self.group_path(group)} does not exist: create it (with a "
                              "health check) before the first deploy, or fix the group name in deploy/") from error
        if not mig.auto_healing_policies and not self.health_check:
            raise DeployError(f"{group} has no auto-healing health check, so a broken release could not be told from "
                              "a good one: give the group a health check (or pass health_check=…) first")
        if not mig.status.version_target.is_reached:
            raise DeployError(f"{group} is still moving to {last_segment(mig.instance_template)}: wait for that "
                              f"update to finish, or `dagger call rollback`, then deploy again")
        previous = last_segment(mig.instance_template)
        template = self.instance_template(svc, image, group=group, previous=previous)
        if previous == template.name:
            return result(Outcome.SUCCEEDED, previous, previous, f"{group} already runs {image}")

        self.progress(f"{svc.name}: inserting template {template.name}")
        try:
            operation = self._call(TEMPLATES_INSERT, self.templates.insert_unary, project=self.project,
                                   instance_template_resource=template)
            self._wait_compute(operation, f"inserting template {template.name}")
        except gexc.Conflict:
            pass  # made by an earlier attempt at this very release: templates are immutable, reuse it
        except gexc.GoogleAPICallError as error:
            raise DeployError(f"could not create instance template {template.name}: {error.message}; "
                              f"{group} still runs {previous}") from error

        self.progress(f"{svc.name}: switching {group} from {previous} to {template.name}")
        try:
            self._switch(group, template.name)
        except gexc.GoogleAPICallError as error:
            raise DeployError(f"could not switch {group} to {template.name}: {error.message}; "
                              f"it still runs {previous}") from error
        except DeployError as error:  # accepted, but its operation is slow: the group itself tells how it goes
            self.progress(f"{svc.name}: {error}; watching the group")

        try:
            waited = self._wait_stable(group, template.name, self.timeout)
        except (gexc.GoogleAPICallError, gexc.RetryError) as error:
            waited = _Wait(False, f"lost track of {group} while it rolled: {error}")
        if waited.ok:
            return result(Outcome.SUCCEEDED, previous, template.name, waited.detail)

        self.progress(f"{svc.name}: {waited.detail}; rolling {group} back to {previous}")
        try:
            self._switch(group, previous)
            back = self._wait_stable(group, previous, self.rollback_timeout)
        except (gexc.GoogleAPICallError, gexc.RetryError, DeployError) as error:
            back = _Wait(False, str(error))
        if back.ok:
            return result(Outcome.ROLLED_BACK, previous, template.name,
                          f"{waited.detail}; rolled back: {back.detail}")
        return result(Outcome.FAILED, previous, template.name,
                      f"{waited.detail}; rollback to {previous} did not finish either ({back.detail}): "
                      f"inspect {self.group_path(group)} and run `dagger call rollback`")

    def serving(self, service: str | Service, *, group: str) -> str:
        """The image (by digest) of the template the group runs, or "" for a template this pipeline did not make."""
        rolling_service(service)
        self._check_target(group)
        try:
            mig = self._get_group(group)
            template = self._call(TEMPLATES_GET, self.templates.get, project=self.project,
                                  instance_template=last_segment(mig.instance_template))
        except gexc.NotFound as error:
            raise DeployError(f"{self.group_path(group)} or its instance template does not exist") from error
        return _image_in(template)

    def current(self, service: str | Service, *, group: str) -> str:
        """The instance template the group runs now: what `restore` puts back."""
        rolling_service(service)
        self._check_target(group)
        try:
            return last_segment(self._get_group(group).instance_template)
        except gexc.NotFound as error:
            raise DeployError(f"instance group manager {self.group_path(group)} does not exist") from error

    def rollback(self, service: str | Service, *, group: str) -> DeployResult:
        """Put the group back on the template its current one replaced, and wait until it is stable there."""
        return self.restore(service, self.release_before(service, group=group)[0], group=group)

    def release_before(self, service: str | Service, *, group: str) -> tuple[str, str]:
        """The template the group's current one replaced (what `restore` takes), and its image."""
        current = self.current(service, group=group)
        previous = self._previous_of(group, current)
        if not previous:
            raise DeployError(f"{group} runs {current} and no earlier template of it is known: nothing to roll "
                              "back to (deploy a known-good image by digest instead)")
        try:
            template = self._call(TEMPLATES_GET, self.templates.get, project=self.project, instance_template=previous)
        except gexc.NotFound as error:
            raise DeployError(f"{group}'s previous template {previous} was deleted: deploy a known-good image by "
                              "digest instead") from error
        return previous, _image_in(template)

    def restore(self, service: str | Service, previous: str, *, group: str) -> DeployResult:
        """Put the group on the template `previous` (one `current` returned) and wait until it is stable there;
        a group on it already is not patched, only watched until it is stable."""
        started = self.clock()
        self.calls = Counter()
        svc = rolling_service(service)
        self._check_target(group)
        now = self.current(svc, group=group)
        try:
            known_good = self._call(TEMPLATES_GET, self.templates.get, project=self.project,
                                    instance_template=previous)
        except gexc.NotFound as error:
            raise DeployError(f"{group}'s previous template {previous} was deleted: deploy a known-good image by "
                              "digest instead") from error
        image = _image_in(known_good)
        if now != previous:
            self.progress(f"{svc.name}: putting {group} back from {now} on {previous}")
            self._switch(group, previous)
        waited = self._wait_stable(group, previous, self.rollback_timeout)
        return DeployResult(service=svc.name, strategy=STRATEGY, target=self.group_path(group), image=image,
                            previous=now, new=previous,
                            outcome=Outcome.SUCCEEDED if waited.ok else Outcome.FAILED,
                            seconds=self.clock() - started, detail=waited.detail, api_calls=dict(self.calls))


# ---- command line: the Cloud Deploy custom target's deploy action, and a hand tool against the fake ---------------
def main(argv: list[str] | None = None) -> int:
    """`python -m dojangkok.deploy.rolling deploy|rollback …`: one service, one group; JSON result on stdout."""
    env = os.environ.get
    parser = argparse.ArgumentParser(prog="python -m dojangkok.deploy.rolling", description=main.__doc__)
    parser.add_argument("action", choices=["deploy", "rollback", "plan"])
    parser.add_argument("--service", default=env("DOJANGKOK_SERVICE", ""), help="ai-server or vllm")
    parser.add_argument("--image", default=env("DOJANGKOK_IMAGE", ""), help="REGISTRY/PATH[:TAG]@sha256:…")
    parser.add_argument("--project", default=env("DOJANGKOK_GCP_PROJECT", env("CLOUD_DEPLOY_PROJECT_ID", "")))
    parser.add_argument("--zone", default=env("DOJANGKOK_GCP_ZONE", ""))
    parser.add_argument("--group", default=env("DOJANGKOK_GROUP", ""), help="instance group manager name")
    parser.add_argument("--health-check", default=env("DOJANGKOK_HEALTH_CHECK", ""))
    parser.add_argument("--network", default=env("DOJANGKOK_NETWORK", "global/networks/default"))
    parser.add_argument("--subnetwork", default=env("DOJANGKOK_SUBNETWORK", ""))
    parser.add_argument("--service-account", default=env("DOJANGKOK_SERVICE_ACCOUNT", ""))
    parser.add_argument("--timeout", type=float, default=float(env("DOJANGKOK_TIMEOUT", "1800")))
    parser.add_argument("--poll-seconds", type=float, default=float(env("DOJANGKOK_POLL_SECONDS", "5")),
                        help="first wait between reads of the group (then x1.5, at most 30s; 0.2 suits the fake)")
    parser.add_argument("--startup-script", type=Path, default=Path(env("DOJANGKOK_STARTUP_SCRIPT", STARTUP_SCRIPT)),
                        help=f"the instances' startup script template (default: {STARTUP_SCRIPT} of the checkout)")
    parser.add_argument("--endpoint", default=env("DOJANGKOK_GCP_ENDPOINT", ""),
                        help="API endpoint, e.g. the local fake http://127.0.0.1:8085 (default: Google)")
    args = parser.parse_args(argv)
    driver = RollingUpdate(project=args.project, zone=args.zone, clients=None, network=args.network,
                           subnetwork=args.subnetwork, service_account=args.service_account,
                           health_check=args.health_check, timeout=args.timeout, rollback_timeout=args.timeout,
                           poll_initial=args.poll_seconds, poll_max=max(args.poll_seconds, 30.0),
                           progress=lambda line: print(line, file=sys.stderr, flush=True))
    try:
        driver.startup_template = args.startup_script.read_text()
        if args.action == "rollback":
            rolling_service(args.service)
            driver._check_target(args.group)
        else:
            steps = driver.plan(args.service, args.image, group=args.group)  # validates; no client, no call
        if args.action == "plan":
            print(json.dumps([s.as_dict() for s in steps], indent=2))
            return 0
        driver.clients = gcp_clients(args.project, endpoint=args.endpoint or None)
        result = (driver.deploy(args.service, args.image, group=args.group) if args.action == "deploy"
                  else driver.rollback(args.service, group=args.group))
    except (DeployError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(result.as_dict(), indent=2))
    return 0 if result.outcome is Outcome.SUCCEEDED else 1


if __name__ == "__main__":
    sys.exit(main())


def _image_in(template: Any) -> str:
    """The image (by digest) an instance template runs, "" for one this pipeline did not make."""
    return next((i.value for i in template.properties.metadata.items if i.key == METADATA_IMAGE), "")
