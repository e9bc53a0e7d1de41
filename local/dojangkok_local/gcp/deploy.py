"""Cloud Deploy v1 half of the GCP fake: delivery pipelines, targets, releases, rollouts, operations.

Creates return long-running operations (google.longrunning shape, `response` packed as an Any) that finish after
a configurable number of reads. A release renders, then each rollout goes IN_PROGRESS and ends SUCCEEDED, or
FAILED when its release carries an image digest the test marked unhealthy.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar

from dojangkok_local.gcp.compute import DIGEST

ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
TYPE = "type.googleapis.com/google.cloud.deploy.v1."
_ops = itertools.count(1)


def now() -> str:
    """RFC 3339 with microseconds: rollouts made in one test must still sort by creation."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class DeployApiError(Exception):
    """An error in the google.rpc.Status JSON shape most Google REST APIs answer with."""

    STATUS: ClassVar[dict[int, str]] = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 409: "ALREADY_EXISTS"}

    def __init__(self, code: int, message: str, status: str = ""):
        super().__init__(message)
        self.code, self.message = code, message
        self.status = status or self.STATUS.get(code, "UNKNOWN")  # FAILED_PRECONDITION travels as HTTP 400

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


class CloudDeploy:
    def __init__(self, *, operation_polls: int = 1, rollout_reads: int = 2, is_unhealthy: Callable[[str], bool]):
        self.operation_polls = operation_polls
        self.rollout_reads = rollout_reads  # reads of a rollout while it is IN_PROGRESS before it ends
        self.is_unhealthy = is_unhealthy  # digest -> bool, shared with the Compute half
        self.pipelines: dict[str, dict] = {}
        self.targets: dict[str, dict] = {}
        self.releases: dict[str, dict] = {}
        self.rollouts: dict[str, dict] = {}
        self.reads: dict[str, int] = {}
        self.operations: dict[str, dict] = {}

    # ---- helpers ----------------------------------------------------------------------------------------------
    @staticmethod
    def _check_id(kind: str, value: str) -> None:
        if not value or not ID.match(value):
            raise DeployApiError(400, f"{kind} id {value!r} is invalid: lower-case letters, digits and hyphens, "
                                 "starting with a letter, at most 63 characters")

    def _operation(self, location: str, verb: str, target: str, kind: str, resource: dict) -> dict:
        name = f"{location}/operations/operation-{next(_ops)}-{uuid.uuid4().hex[:8]}"
        op = {
            "name": name,
            "metadata": {"@type": TYPE + "OperationMetadata", "createTime": now(), "target": target, "verb": verb,
                         "apiVersion": "v1"},
            "done": False,
        }
        self.operations[name] = {"op": op, "reads": 0, "kind": kind, "resource": resource}
        if self.operation_polls == 0:
            self._finish(self.operations[name])
        return dict(op)

    def _finish(self, entry: dict) -> None:
        entry["op"]["done"] = True
        entry["op"]["metadata"]["endTime"] = now()
        entry["op"]["response"] = {"@type": TYPE + entry["kind"], **self._view(entry["resource"])}

    def get_operation(self, name: str) -> dict:
        entry = self.operations.get(name)
        if entry is None:
            raise DeployApiError(404, f"operation {name!r} not found")
        entry["reads"] += 1
        if not entry["op"]["done"] and entry["reads"] >= self.operation_polls:
            self._finish(entry)
        return dict(entry["op"])

    def _view(self, resource: dict) -> dict:
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    def _get(self, table: dict, kind: str, name: str) -> dict:
        if name not in table:
            raise DeployApiError(404, f"{kind} {name!r} not found")
        return table[name]

    # ---- pipelines and targets --------------------------------------------------------------------------------
    def create_pipeline(self, location: str, pipeline_id: str, body: dict) -> dict:
        self._check_id("delivery pipeline", pipeline_id)
        name = f"{location}/deliveryPipelines/{pipeline_id}"
        if name in self.pipelines:
            raise DeployApiError(409, f"delivery pipeline {name!r} already exists")
        pipeline = {**body, "name": name, "uid": uuid.uuid4().hex, "createTime": now(), "updateTime": now(),
                    "etag": uuid.uuid4().hex[:16]}
        self.pipelines[name] = pipeline
        return self._operation(location, "create", name, "DeliveryPipeline", pipeline)

    def get_pipeline(self, name: str) -> dict:
        return self._view(self._get(self.pipelines, "delivery pipeline", name))

    def list_pipelines(self, location: str) -> dict:
        return {"deliveryPipelines": [self._view(p) for n, p in self.pipelines.items() if n.startswith(location + "/")]}

    def create_target(self, location: str, target_id: str, body: dict) -> dict:
        self._check_id("target", target_id)
        name = f"{location}/targets/{target_id}"
        if name in self.targets:
            raise DeployApiError(409, f"target {name!r} already exists")
        target = {**body, "name": name, "targetId": target_id, "uid": uuid.uuid4().hex, "createTime": now(),
                  "updateTime": now(), "etag": uuid.uuid4().hex[:16]}
        self.targets[name] = target
        return self._operation(location, "create", name, "Target", target)

    def get_target(self, name: str) -> dict:
        return self._view(self._get(self.targets, "target", name))

    # ---- releases -----------------------------------------------------------------------------------------------
    def create_release(self, pipeline: str, release_id: str, body: dict) -> dict:
        snapshot = self._get(self.pipelines, "delivery pipeline", pipeline)
        self._check_id("release", release_id)
        name = f"{pipeline}/releases/{release_id}"
        if name in self.releases:
            raise DeployApiError(409, f"release {name!r} already exists")
        if not body.get("skaffoldConfigUri") and not body.get("buildArtifacts"):
            raise DeployApiError(400, "a release needs buildArtifacts (image substitutions) or a skaffoldConfigUri")
        release = {**body, "name": name, "uid": uuid.uuid4().hex, "createTime": now(),
                   "renderState": "IN_PROGRESS", "deliveryPipelineSnapshot": self._view(snapshot),
                   "etag": uuid.uuid4().hex[:16], "_renders_left": 1}
        self.releases[name] = release
        location = pipeline.rsplit("/deliveryPipelines/", 1)[0]
        return self._operation(location, "create", name, "Release", release)

    def get_release(self, name: str) -> dict:
        release = self._get(self.releases, "release", name)
        if release["renderState"] == "IN_PROGRESS":
            release["_renders_left"] -= 1
            if release["_renders_left"] < 0:
                release.update(renderState="SUCCEEDED", renderEndTime=now())
        return self._view(release)

    def list_releases(self, pipeline: str) -> dict:
        return {"releases": [self._view(r) for n, r in self.releases.items() if n.startswith(pipeline + "/")]}

    # ---- rollouts -----------------------------------------------------------------------------------------------
    def _stage_targets(self, pipeline: dict) -> list[str]:
        return [s.get("targetId", "") for s in (pipeline.get("serialPipeline") or {}).get("stages", [])]

    def create_rollout(self, release_name: str, rollout_id: str, body: dict, *, rollback_of: str = "") -> dict:
        release = self._get(self.releases, "release", release_name)
        self._check_id("rollout", rollout_id)
        pipeline_name = release_name.split("/releases/", 1)[0]
        target_id = body.get("targetId", "")
        if target_id not in self._stage_targets(self.pipelines[pipeline_name]):
            raise DeployApiError(400, f"target {target_id!r} is not a stage of {pipeline_name!r}")
        if release["renderState"] == "FAILED":
            raise DeployApiError(400, f"release {release_name!r} failed to render", "FAILED_PRECONDITION")
        name = f"{release_name}/rollouts/{rollout_id}"
        if name in self.rollouts:
            raise DeployApiError(409, f"rollout {name!r} already exists")
        digests = set(DIGEST.findall(repr(release.get("buildArtifacts", []))))
        rollout = {**body, "name": name, "uid": uuid.uuid4().hex, "targetId": target_id, "createTime": now(),
                   "enqueueTime": now(), "approvalState": "DOES_NOT_NEED_APPROVAL", "state": "IN_PROGRESS",
                   "deployStartTime": now(), "etag": uuid.uuid4().hex[:16],
                   "_fails": any(self.is_unhealthy(d) for d in digests), "_reads": 0, "_seq": len(self.rollouts)}
        if rollback_of:
            rollout["rollbackOfRollout"] = rollback_of
        self.rollouts[name] = rollout
        return rollout

    def create_rollout_op(self, release_name: str, rollout_id: str, body: dict) -> dict:
        rollout = self.create_rollout(release_name, rollout_id, body)
        location = release_name.split("/deliveryPipelines/", 1)[0]
        return self._operation(location, "create", rollout["name"], "Rollout", rollout)

    def get_rollout(self, name: str) -> dict:
        rollout = self._get(self.rollouts, "rollout", name)
        if rollout["state"] == "IN_PROGRESS":
            rollout["_reads"] += 1
            if rollout["_reads"] >= self.rollout_reads:
                if rollout["_fails"]:
                    rollout.update(state="FAILED", deployFailureCause="EXECUTION_FAILED",
                                   failureReason="instances of the new release failed their health checks")
                else:
                    rollout.update(state="SUCCEEDED")
                rollout["deployEndTime"] = now()
        return self._view(rollout)

    def cancel_rollout(self, name: str) -> dict:
        rollout = self._get(self.rollouts, "rollout", name)
        if rollout["state"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
            raise DeployApiError(400, f"rollout {name!r} is already {rollout['state']}", "FAILED_PRECONDITION")
        rollout.update(state="CANCELLED", deployEndTime=now())
        return {}

    def list_rollouts(self, release_name: str) -> dict:
        return {"rollouts": [self._view(r) for n, r in self.rollouts.items() if n.startswith(release_name + "/")]}

    def rollback_target(self, pipeline: str, body: dict) -> dict:
        self._get(self.pipelines, "delivery pipeline", pipeline)
        target_id = body.get("targetId", "")
        rollout_id = body.get("rolloutId", "")
        self._check_id("rollout", rollout_id)
        on_target = sorted((r for n, r in self.rollouts.items()
                            if n.startswith(pipeline + "/") and r["targetId"] == target_id),
                           key=lambda r: r["_seq"])
        if not on_target:
            raise DeployApiError(400, f"target {target_id!r} has no rollout to roll back", "FAILED_PRECONDITION")
        current = on_target[-1]  # the latest rollout, failed or not: the release to move away from
        current_release = current["name"].split("/rollouts/", 1)[0]
        if body.get("releaseId"):
            release = f"{pipeline}/releases/{body['releaseId']}"
        else:
            earlier = [r["name"].split("/rollouts/", 1)[0] for r in on_target[:-1] if r["state"] == "SUCCEEDED"]
            earlier = [r for r in earlier if r != current_release]
            if not earlier:
                raise DeployApiError(400, f"target {target_id!r} has no earlier successful release to roll back to",
                                     "FAILED_PRECONDITION")
            release = earlier[-1]
        rollout = self.create_rollout(release, rollout_id, {"targetId": target_id}, rollback_of=current["name"])
        current.setdefault("rolledBackByRollouts", []).append(rollout["name"])
        return {"rollbackConfig": {"rollout": self._view(rollout), "startingPhaseId": "stable"}}
