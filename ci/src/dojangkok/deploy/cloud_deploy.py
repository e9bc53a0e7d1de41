"""Google Cloud Deploy: where a delivery pipeline is configured, a release and a rollout instead of a direct patch.

`CloudDeploy.deploy` creates a release whose build artifact substitutes the service's image by digest, rolls it
out to the pipeline's target and waits for the rollout to succeed or fail. A failed (or timed-out) rollout is
answered with `rollbackTarget`, which rolls the target back to its previous successful release. `rollback` does
that on demand. The CloudDeployClient (REST) is handed in: `rolling.gcp_clients` builds it for GCP or the fake.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from google.api_core import exceptions as gexc

from dojangkok.catalogue import Service
from dojangkok.deploy import DeployError, DeployResult, Outcome
from dojangkok.deploy.calls import (
    CLOUD_DEPLOY,
    OPERATIONS_GET,
    PIPELINES_GET,
    RELEASES_CREATE,
    RELEASES_GET,
    RELEASES_LIST,
    ROLLBACK_TARGET,
    ROLLOUTS_CANCEL,
    ROLLOUTS_CREATE,
    ROLLOUTS_GET,
    ROLLOUTS_LIST,
)
from dojangkok.deploy.common import Backoff, GoogleApiCalls, PlannedCall, parse_image
from dojangkok.deploy.rolling import RESOURCE_NAME, label_value, rolling_service

STRATEGY = "cloud-deploy"
HISTORY = 5  # releases searched (newest first) for the one the target runs


def pipeline_and_target(delivery_pipeline: str, env: str, service: str) -> tuple[str, str]:
    """The pipeline and target ids of a service, by the convention of deploy/gcp/clouddeploy/clouddeploy.yaml.

    The environment setting names the pipelines' prefix ("dojangkok"); each service has its own pipeline
    (release history and rollbackTarget are per target), with a target per environment.
    """
    return f"{delivery_pipeline}-{service}", f"{env}-{service}"


@dataclass
class CloudDeploy(GoogleApiCalls):
    """Release + rollout on a Cloud Deploy delivery pipeline target, with rollbackTarget on failure.

    `calls` counts the API calls of the last deploy/rollback: one instance per concurrent deploy.
    """

    strategy = STRATEGY
    strategy_calls = CLOUD_DEPLOY

    client: Any  # deploy_v1.CloudDeployClient (REST)
    project: str
    region: str
    pipeline: str  # delivery pipeline id
    target: str  # target id (a stage of the pipeline)
    skaffold_config_uri: str = ""  # gs://… archive of deploy/gcp/clouddeploy/ ("" : the fake needs none)
    skaffold_config_path: str = "skaffold.yaml"
    timeout: float = 1800.0
    operation_timeout: float = 300.0
    poll_initial: float = 5.0
    poll_max: float = 30.0
    retry_initial: float = 1.0
    retry_maximum: float = 30.0
    retry_timeout: float = 120.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time  # for rollout ids, which must be unique per release
    progress: Callable[[str], None] = lambda _line: None
    calls: Counter = field(default_factory=Counter, init=False)

    @property
    def pipeline_path(self) -> str:
        return f"projects/{self.project}/locations/{self.region}/deliveryPipelines/{self.pipeline}"

    def _check(self) -> None:
        for what, value in (("project", self.project), ("region", self.region)):
            if not value:
                raise DeployError(f"no GCP {what} given for Cloud Deploy: set it in the environment settings")
        for what, value in (("delivery pipeline", self.pipeline), ("target", self.target)):
            if not RESOURCE_NAME.match(value or ""):
                raise DeployError(f"Cloud Deploy {what} id {value!r} is not valid (lower-case letters, digits, '-')")

    def release_id(self, service: Service, image: str) -> str:
        """One release per service and image: re-deploying the same digest reuses it."""
        return f"{service.name}-{parse_image(image).hex[:12]}"

    def rollout_id(self, suffix: str = "") -> str:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(self.wall()))
        return f"{self.target[:30].rstrip('-')}-{stamp}{suffix}"

    def release_body(self, service: Service, image: str) -> Any:
        from google.cloud import deploy_v1

        ref = parse_image(image)
        labels = {"dojangkok-service": service.name, "dojangkok-digest": ref.hex[:32]}
        if ref.tag:
            labels["dojangkok-release"] = label_value(ref.tag)
        release = deploy_v1.Release(
            description=f"Dojangkok {service.name} {image}",
            labels=labels,
            # Skaffold's image substitution: the manifests name the image `service`, the release pins the digest.
            build_artifacts=[deploy_v1.BuildArtifact(image=service.name, tag=image)],
            skaffold_config_path=self.skaffold_config_path,
            # What the custom MIG target's deploy action reads (as env vars) to run RollingUpdate.
            deploy_parameters={"DOJANGKOK_SERVICE": service.name, "DOJANGKOK_IMAGE": image},
        )
        if self.skaffold_config_uri:
            release.skaffold_config_uri = self.skaffold_config_uri
        return release

    def plan(self, service: str | Service, image: str) -> list[PlannedCall]:
        svc = rolling_service(service)
        self._check()
        body = self.release_body(svc, image)
        release = f"{self.pipeline_path}/releases/{self.release_id(svc, image)}"
        details = [  # target, summary and body of each of strategy_calls' deploy, then of its failure
            (self.pipeline_path, f"check that {self.target} is a stage of the pipeline", None),
            (self.pipeline_path, f"the releases of {svc.name}, newest first", None),
            (f"<each of the {HISTORY} newest>", f"their rollouts: the release {self.target} runs is the one to "
                                                "fall back to", None),
            (release, f"release substituting {svc.name} = {image}", type(body).to_dict(body)),
            ("<operation>", "wait for the release to be created", None),
            (release, "wait until the release has rendered", None),
            (f"{release}/rollouts/{self.rollout_id()}", f"roll out to {self.target}", None),
            ("<operation>", "wait for the rollout to be created", None),
            (release, f"poll until SUCCEEDED or FAILED (timeout {self.timeout:g}s)", None),
            (self.pipeline_path, "only if it failed: back to the previous release", None),
        ]
        apis = (*self.strategy_calls.deploy, self.strategy_calls.failure)
        return [PlannedCall(api, *detail) for api, detail in zip(apis, details, strict=True)]

    # ---- calls (counted and retried by GoogleApiCalls) ---------------------------------------------------------
    def _poll(self, api: str, method: Callable[..., Any], name: str, finished: Callable[[Any], bool],
              timeout: float) -> Any:
        deadline = self.clock() + timeout
        delays = Backoff(self.poll_initial, 1.5, self.poll_max).delays()
        while True:
            resource = self._call(api, method, name=name)
            if finished(resource) or self.clock() >= deadline:
                return resource
            self.sleep(min(next(delays), max(0.0, deadline - self.clock())))

    def _served(self, service: Service, want: int) -> list[str]:
        """Releases of this service the target ran, newest first, each once (at most `want`).

        Ordered by the successful rollouts to the target that were not rolled back since, so after a rollback
        the release rolled back to counts as current. Filtered by the release's service label, in case one
        target carries more than one service (better: a pipeline per service, as clouddeploy.yaml has).
        """
        from google.cloud import deploy_v1

        releases = [r for r in self._call(RELEASES_LIST, self.client.list_releases,
                                          request={"parent": self.pipeline_path, "order_by": "create_time desc"})
                    if r.labels.get("dojangkok-service") == service.name]
        releases.sort(key=lambda r: r.create_time, reverse=True)
        rollouts = []
        for release in releases[:HISTORY]:
            rollouts += [r for r in self._call(ROLLOUTS_LIST, self.client.list_rollouts,
                                               request={"parent": release.name})
                         if r.target_id == self.target and r.state == deploy_v1.Rollout.State.SUCCEEDED
                         and not r.rolled_back_by_rollouts]
        rollouts.sort(key=lambda r: r.create_time, reverse=True)
        served = list(dict.fromkeys(r.name.split("/rollouts/", 1)[0] for r in rollouts))
        return served[:want]

    def _roll(self, release: str, rollout_id: str) -> Any:
        from google.cloud import deploy_v1

        operation = self._call(ROLLOUTS_CREATE, self.client.create_rollout, parent=release,
                               rollout=deploy_v1.Rollout(target_id=self.target), rollout_id=rollout_id)
        rollout = self._wait_operation(operation, OPERATIONS_GET, f"creating rollout {rollout_id}",
                                       done=operation.operation.done)
        return self._wait_rollout(rollout.name)

    def _wait_rollout(self, name: str) -> Any:
        terminal = self._terminal()
        return self._poll(ROLLOUTS_GET, self.client.get_rollout, name, lambda r: r.state in terminal, self.timeout)

    @staticmethod
    def _terminal() -> set:
        from google.cloud import deploy_v1

        state = deploy_v1.Rollout.State
        return {state.SUCCEEDED, state.FAILED, state.CANCELLED, state.HALTED, state.APPROVAL_REJECTED}

    def _rollback_target(self, suffix: str, release: str = "") -> Any:
        """rollbackTarget: to `release` (a name) or, without one, the target's previous successful release."""
        request = {"name": self.pipeline_path, "target_id": self.target, "rollout_id": self.rollout_id(suffix)}
        if release:
            request["release_id"] = release.rsplit("/", 1)[-1]
        response = self._call(ROLLBACK_TARGET, self.client.rollback_target, request=request)
        return self._wait_rollout(response.rollback_config.rollout.name)

    # ---- deploy and rollback -------------------------------------------------------------------------------------
    def deploy(self, service: str | Service, image: str) -> DeployResult:
        from google.cloud import deploy_v1

        started = self.clock()
        self.calls = Counter()
        svc = rolling_service(service)
        self._check()
        body = self.release_body(svc, image)  # validates the image before any call
        release_id = self.release_id(svc, image)

        def result(outcome: Outcome, previous: str, new: str, detail: str) -> DeployResult:
            return DeployResult(service=svc.name, strategy=STRATEGY, target=f"{self.pipeline_path} → {self.target}",
                                image=image, previous=previous, new=new, outcome=outcome,
                                seconds=self.clock() - started, detail=detail, api_calls=dict(self.calls))

        try:
            pipeline = self._call(PIPELINES_GET, self.client.get_delivery_pipeline, name=self.pipeline_path)
        except gexc.NotFound as error:
            raise DeployError(f"delivery pipeline {self.pipeline_path} does not exist: apply "
                              "deploy/gcp/clouddeploy/clouddeploy.yaml, or unset the pipeline to patch the "
                              "group directly") from error
        stages = [s.target_id for s in pipeline.serial_pipeline.stages]
        if self.target not in stages:
            raise DeployError(f"target {self.target!r} is not a stage of {self.pipeline} (stages: {stages})")
        previous = next(iter(self._served(svc, 1)), "")

        name = f"{self.pipeline_path}/releases/{release_id}"
        self.progress(f"{svc.name}: creating release {release_id}")
        try:
            operation = self._call(RELEASES_CREATE, self.client.create_release, parent=self.pipeline_path,
                                   release=body, release_id=release_id)
            self._wait_operation(operation, OPERATIONS_GET, f"creating release {release_id}",
                                 done=operation.operation.done)
        except gexc.Conflict:
            pass  # this image was released before: roll the same release out again
        except gexc.GoogleAPICallError as error:
            raise DeployError(f"could not create release {release_id}: {error.message}; "
                              f"{self.target} still runs {previous or 'what it ran'}") from error
        render = deploy_v1.Release.RenderState
        release = self._poll(RELEASES_GET, self.client.get_release, name,
                             lambda r: r.render_state in (render.SUCCEEDED, render.FAILED), self.timeout)
        if release.render_state != render.SUCCEEDED:
            raise DeployError(f"release {release_id} did not render ({release.render_state.name}); "
                              f"{self.target} still runs {previous or 'what it ran'}")

        self.progress(f"{svc.name}: rolling {release_id} out to {self.target}")
        try:
            rollout = self._roll(name, self.rollout_id())
        except gexc.GoogleAPICallError as error:
            raise DeployError(f"could not roll {release_id} out to {self.target}: {error.message}; "
                              f"it still runs {previous or 'what it ran'}") from error
        if rollout.state == deploy_v1.Rollout.State.SUCCEEDED:
            return result(Outcome.SUCCEEDED, previous, name, f"rollout {rollout.name} succeeded")
        if rollout.state in self._terminal():
            why = f"rollout {rollout.name} ended {rollout.state.name}: {rollout.failure_reason}"
        else:
            why = f"rollout {rollout.name} did not finish within {self.timeout:g}s ({rollout.state.name})"
            try:  # a target takes one rollout at a time: stop this one before rolling back
                self._call(ROLLOUTS_CANCEL, self.client.cancel_rollout, name=rollout.name)
            except gexc.GoogleAPICallError as error:
                why += f"; cancelling it failed: {error.message}"
        if not previous:
            return result(Outcome.FAILED, "", name, f"{why}; no earlier release on {self.target} to roll back to")
        self.progress(f"{svc.name}: {why}; rolling {self.target} back")
        back = self._rollback_target("-rollback", previous)
        if back.state == deploy_v1.Rollout.State.SUCCEEDED:
            return result(Outcome.ROLLED_BACK, previous, name, f"{why}; rolled back by {back.name}")
        return result(Outcome.FAILED, previous, name, f"{why}; rollback {back.name} ended {back.state.name}: "
                      "run `dagger call rollback` or inspect the pipeline")

    def current(self, service: str | Service) -> str:
        """The release the target runs now (its latest successful rollout not rolled back): what `restore`
        puts back; "" if it ran none."""
        svc = rolling_service(service)
        self._check()
        return next(iter(self._served(svc, 1)), "")

    def rollback(self, service: str | Service) -> DeployResult:
        """Put the target back on the release it ran before the current one."""
        return self.restore(service, self.release_before(service)[0])

    def release_before(self, service: str | Service) -> tuple[str, str]:
        """The release the target ran before the current one (what `restore` takes), and its image."""
        svc = rolling_service(service)
        self._check()
        served = self._served(svc, 2)
        if len(served) < 2:
            raise DeployError(f"{svc.name} has no earlier successful release on {self.target} to roll back to "
                              "(deploy a known-good image by digest instead)")
        return served[1], self._image_of(svc, served[1])

    def _image_of(self, svc: Service, release: str) -> str:
        artifacts = self._call(RELEASES_GET, self.client.get_release, name=release).build_artifacts
        return next((a.tag for a in artifacts if a.image == svc.name), "")

    def restore(self, service: str | Service, previous: str) -> DeployResult:
        """Put the target on the release `previous` (one `current` returned) with rollbackTarget; a target
        that runs it already is left alone."""
        from google.cloud import deploy_v1

        started = self.clock()
        self.calls = Counter()
        svc = rolling_service(service)
        now = self.current(svc)

        def result(outcome: Outcome, new: str, image: str, detail: str) -> DeployResult:
            return DeployResult(service=svc.name, strategy=STRATEGY, target=f"{self.pipeline_path} → {self.target}",
                                image=image, previous=now, new=new, outcome=outcome,
                                seconds=self.clock() - started, detail=detail, api_calls=dict(self.calls))

        if not previous:
            return result(Outcome.FAILED, now, "", f"{self.target} ran no release before, so there is none to put "
                          "back: deploy a known-good image by digest")
        image = self._image_of(svc, previous)
        if now == previous:
            return result(Outcome.SUCCEEDED, now, image, f"{self.target} runs {previous}, as before")
        back = self._rollback_target("-rollback", previous)
        ok = back.state == deploy_v1.Rollout.State.SUCCEEDED
        return result(Outcome.SUCCEEDED if ok else Outcome.FAILED, previous if ok else now, image,
                      f"rollout {back.name} {back.state.name}")

    def serving(self, service: str | Service) -> str:
        raise DeployError(f"{rolling_service(service).name}: reading what a Cloud Deploy target runs is not "
                          "supported; promote the release with `gcloud deploy releases promote` there")
