"""The cloud API calls of each rollout strategy, named as the APIs (and the emulators' call logs) name them.

One place for the drivers, which make them and detail them in `plan()`, and for `dagger call plan`, which lists
them before a release exists and imports no cloud SDK. The emulator tier checks each list against the calls a
deploy makes on the wire.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class StrategyCalls:
    deploy: tuple[str, ...]  # what a deploy calls, in order; the last read is then polled until the rollout ends
    failure: str  # the one call made only when the release fails
    on_failure: str  # what happens then, as `plan` says it


# Compute Engine
GROUPS_GET = "compute.instanceGroupManagers.get"
GROUPS_PATCH = "compute.instanceGroupManagers.patch"
TEMPLATES_INSERT = "compute.instanceTemplates.insert"
TEMPLATES_GET = "compute.instanceTemplates.get"
TEMPLATES_LIST = "compute.instanceTemplates.list"
GLOBAL_OPERATIONS_WAIT = "compute.globalOperations.wait"
ZONE_OPERATIONS_WAIT = "compute.zoneOperations.wait"

# Cloud Deploy
PIPELINES_GET = "clouddeploy.deliveryPipelines.get"
RELEASES_CREATE = "clouddeploy.releases.create"
RELEASES_GET = "clouddeploy.releases.get"
RELEASES_LIST = "clouddeploy.releases.list"
ROLLOUTS_CREATE = "clouddeploy.rollouts.create"
ROLLOUTS_GET = "clouddeploy.rollouts.get"
ROLLOUTS_LIST = "clouddeploy.rollouts.list"
ROLLOUTS_CANCEL = "clouddeploy.rollouts.cancel"
ROLLBACK_TARGET = "clouddeploy.deliveryPipelines.rollbackTarget"
OPERATIONS_GET = "clouddeploy.operations.get"

BLUE_GREEN = StrategyCalls(
    deploy=("codedeploy.GetDeploymentGroup", "codedeploy.GetDeployment", "s3.PutObject",
            "codedeploy.CreateDeployment", "codedeploy.GetDeployment"),
    failure="codedeploy.StopDeployment",
    on_failure="CodeDeploy rolls back by itself and traffic stays on blue; on timeout codedeploy:StopDeployment "
               "with autoRollbackEnabled",
)
ROLLING = StrategyCalls(
    deploy=(GROUPS_GET, TEMPLATES_INSERT, GLOBAL_OPERATIONS_WAIT, GROUPS_PATCH, ZONE_OPERATIONS_WAIT, GROUPS_GET),
    failure=GROUPS_PATCH,
    on_failure=f"{GROUPS_PATCH} back to the previous instance template",
)
CLOUD_DEPLOY = StrategyCalls(
    deploy=(PIPELINES_GET, RELEASES_LIST, ROLLOUTS_LIST, RELEASES_CREATE, OPERATIONS_GET, RELEASES_GET,
            ROLLOUTS_CREATE, OPERATIONS_GET, ROLLOUTS_GET),
    failure=ROLLBACK_TARGET,
    on_failure=f"{ROLLBACK_TARGET} to the previous release",
)
