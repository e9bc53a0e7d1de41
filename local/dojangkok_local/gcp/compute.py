"""Compute Engine v1 half of the GCP fake: instance templates, zonal managed instance groups, operations.

The state lives here; `gcp.py` maps HTTP routes onto it. Shapes follow the Compute v1 REST API closely enough
that google-cloud-compute's REST transport parses them (camelCase JSON, int64 ids as strings).

A managed instance group rolls gradually: every tick ages its instances one phase
(CREATING -> VERIFYING -> NONE, i.e. running and healthy) and starts or deletes a few, honouring the group's
updatePolicy (maxSurge / maxUnavailable). Instances of an unhealthy template or image never pass VERIFYING:
with an auto-healing policy they are recreated forever, so the group never becomes stable.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

API = "https://www.googleapis.com/compute/v1"
NAME = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_ids = itertools.count(4_000_000_000_000_000_001)


# Machine families whose types come with their GPUs (A2, G2): scheduling must still say TERMINATE.
ACCELERATOR_OPTIMIZED = {"a2", "a3", "g2"}


class ApiError(Exception):
    """An error the fake answers with, in the Compute error shape."""

    def __init__(self, code: int, reason: str, message: str):
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message

    def body(self) -> dict:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "errors": [{"message": self.message, "domain": "global", "reason": self.reason}],
            }
        }


_last_stamp = datetime.min.replace(tzinfo=UTC)


def now() -> str:
    """RFC 3339 in milliseconds like the API, strictly increasing so creation order is never a tie."""
    global _last_stamp
    stamp = max(datetime.now(UTC), _last_stamp + timedelta(milliseconds=1))
    _last_stamp = stamp
    return stamp.isoformat(timespec="milliseconds")


def last_segment(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class Instance:
    name: str
    template: str  # template name
    action: str = "CREATING"  # the MIG's currentAction for it: CREATING, VERIFYING, NONE, RECREATING, DELETING
    age: int = 0  # ticks spent in the current action
    id: str = field(default_factory=lambda: str(next(_ids)))


@dataclass
class Group:
    project: str
    zone: str
    body: dict  # the resource as the API returns it, minus status/currentActions (computed)
    instances: list[Instance] = field(default_factory=list)
    serial: itertools.count = field(default_factory=lambda: itertools.count(1))
    history: list[tuple[int, int]] = field(default_factory=list)  # (healthy, not being deleted) after each tick


class Compute:
    """Stateful model of the Compute resources the rolling-update driver touches."""

    def __init__(self, *, phase_ticks: int = 1, operation_polls: int = 1):
        self.phase_ticks = phase_ticks  # ticks an instance spends creating, then verifying
        self.operation_polls = operation_polls  # reads of an operation before it reports DONE
        self.templates: dict[tuple[str, str], dict] = {}
        self.groups: dict[tuple[str, str, str], Group] = {}
        self.operations: dict[tuple[str, str, str], dict] = {}  # (project, scope, name) -> operation
        self.op_reads: dict[tuple[str, str, str], int] = {}
        self.unhealthy_templates: set[str] = set()
        self.unhealthy_images: set[str] = set()  # digests ("sha256:…")
        self.traffic = None  # a GcpTraffic: instances really boot and serve behind a real backend service

    # ---- operations -------------------------------------------------------------------------------------------
    def _operation(self, project: str, scope: str, kind: str, target: str) -> dict:
        op_id = str(next(_ids))
        name = f"operation-{op_id}"
        where = "global" if scope == "global" else f"zones/{scope}"
        op = {
            "kind": "compute#operation",
            "id": op_id,
            "name": name,
            "operationType": kind,
            "targetLink": target,
            "targetId": op_id,
            "status": "RUNNING" if self.operation_polls else "DONE",
            "progress": 0,
            "insertTime": now(),
            "startTime": now(),
            "user": "dojangkok-fake",
            "selfLink": f"{API}/projects/{project}/{where}/operations/{name}",
        }
        if scope != "global":
            op["zone"] = f"{API}/projects/{project}/zones/{scope}"
        if op["status"] == "DONE":
            op.update(progress=100, endTime=now())
        self.operations[(project, scope, name)] = op
        self.op_reads[(project, scope, name)] = 0
        return dict(op)

    def get_operation(self, project: str, scope: str, name: str) -> dict:
        key = (project, scope, name)
        if key not in self.operations:
            raise ApiError(404, "notFound",
                           f"The resource 'projects/{project}/{scope}/operations/{name}' was not found")
        self.op_reads[key] += 1
        op = self.operations[key]
        if op["status"] != "DONE" and self.op_reads[key] >= self.operation_polls:
            op.update(status="DONE", progress=100, endTime=now())
        return dict(op)

    # ---- instance templates (global) ----------------------------------------------------------------------------
    def template_url(self, project: str, name: str) -> str:
        return f"{API}/projects/{project}/global/instanceTemplates/{name}"

    def insert_template(self, project: str, body: dict) -> dict:
        name = body.get("name", "")
        if not NAME.match(name):
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'. Must be a match of "
                           "regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'")
        if (project, name) in self.templates:
            raise ApiError(409, "alreadyExists",
                           f"The resource 'projects/{project}/global/instanceTemplates/{name}' already exists")
        props = body.get("properties") or {}
        if not props.get("machineType"):
            raise ApiError(400, "required", "Invalid value for field 'resource.properties.machineType': ''.")
        gpu_family = props["machineType"].rsplit("/", 1)[-1].split("-", 1)[0] in ACCELERATOR_OPTIMIZED
        if (props.get("guestAccelerators") or gpu_family) and (props.get("scheduling") or {}).get(
            "onHostMaintenance"
        ) != "TERMINATE":
            raise ApiError(400, "invalid", "Instances with guest accelerators do not support live migration: "
                           "set scheduling.onHostMaintenance to TERMINATE.")
        stored = dict(body)
        stored.update(
            kind="compute#instanceTemplate",
            id=str(next(_ids)),
            creationTimestamp=now(),
            selfLink=self.template_url(project, name),
        )
        self.templates[(project, name)] = stored
        return self._operation(project, "global", "insert", stored["selfLink"])

    def get_template(self, project: str, name: str) -> dict:
        if (project, name) not in self.templates:
            raise ApiError(404, "notFound", f"The resource 'projects/{project}/global/instanceTemplates/{name}' "
                           "was not found")
        return self.templates[(project, name)]

    def list_templates(self, project: str) -> dict:
        items = [t for (p, _), t in self.templates.items() if p == project]
        return {"kind": "compute#instanceTemplateList", "id": f"projects/{project}/global/instanceTemplates",
                "items": items, "selfLink": f"{API}/projects/{project}/global/instanceTemplates"}

    def delete_template(self, project: str, name: str) -> dict:
        template = self.get_template(project, name)
        for group in self.groups.values():
            if group.project == project and name in self._templates_in_use(group):
                raise ApiError(400, "resourceInUseByAnotherResource",
                               f"The instance_template resource '{name}' is already being used by "
                               f"'{group.body['selfLink']}'")
        del self.templates[(project, name)]
        return self._operation(project, "global", "delete", template["selfLink"])

    def _templates_in_use(self, group: Group) -> set[str]:
        used = {last_segment(v["instanceTemplate"]) for v in group.body.get("versions", [])}
        used.add(last_segment(group.body.get("instanceTemplate", "")))
        return used | {i.template for i in group.instances}

    def _resolve_template(self, project: str, ref: str) -> str:
        name = last_segment(ref)
        self.get_template(project, name)  # 404 when it does not exist, as the API does
        return self.template_url(project, name)

    def healthy(self, project: str, template: str) -> bool:
        if template in self.unhealthy_templates:
            return False
        body = self.templates.get((project, template), {})
        return not (set(DIGEST.findall(repr(body))) & self.unhealthy_images)

    # ---- managed instance groups (zonal) -----------------------------------------------------------------------
    def _group(self, project: str, zone: str, name: str) -> Group:
        group = self.groups.get((project, zone, name))
        if group is None:
            raise ApiError(404, "notFound", f"The resource 'projects/{project}/zones/{zone}/instanceGroupManagers/"
                           f"{name}' was not found")
        return group

    def insert_group(self, project: str, zone: str, body: dict) -> dict:
        name = body.get("name", "")
        if not NAME.match(name):
            raise ApiError(400, "invalid", f"Invalid value for field 'resource.name': '{name}'.")
        if (project, zone, name) in self.groups:
            raise ApiError(409, "alreadyExists", f"The resource 'projects/{project}/zones/{zone}/"
                           f"instanceGroupManagers/{name}' already exists")
        spec = dict(body)
        self._normalise(project, spec)
        spec.setdefault("targetSize", 0)
        spec.setdefault("baseInstanceName", name)
        spec.setdefault("updatePolicy", {"type": "OPPORTUNISTIC"})
        spec.update(
            kind="compute#instanceGroupManager",
            id=str(next(_ids)),
            creationTimestamp=now(),
            zone=f"{API}/projects/{project}/zones/{zone}",
            fingerprint="",
            selfLink=f"{API}/projects/{project}/zones/{zone}/instanceGroupManagers/{name}",
            instanceGroup=f"{API}/projects/{project}/zones/{zone}/instanceGroups/{name}",
        )
        self.groups[(project, zone, name)] = Group(project, zone, spec)
        return self._operation(project, zone, "insert", spec["selfLink"])

    def _normalise(self, project: str, spec: dict) -> None:
        """Template references become full URLs, as the real API stores them; versions mirror instanceTemplate."""
        if spec.get("versions"):
            for version in spec["versions"]:
                version["instanceTemplate"] = self._resolve_template(project, version["instanceTemplate"])
            if "instanceTemplate" not in spec or len(spec["versions"]) == 1:
                spec["instanceTemplate"] = spec["versions"][0]["instanceTemplate"]
        if spec.get("instanceTemplate"):
            spec["instanceTemplate"] = self._resolve_template(project, spec["instanceTemplate"])
            if not spec.get("versions"):
                spec["versions"] = [{"instanceTemplate": spec["instanceTemplate"]}]
        for policy in spec.get("autoHealingPolicies", []):
            policy.setdefault("initialDelaySec", 300)

    def patch_group(self, project: str, zone: str, name: str, body: dict) -> dict:
        group = self._group(project, zone, name)
        patch = dict(body)
        for key in ("name", "id", "selfLink", "kind", "status", "currentActions", "zone"):
            patch.pop(key, None)
        if "versions" in patch and "instanceTemplate" not in patch:
            patch["instanceTemplate"] = patch["versions"][0]["instanceTemplate"]
        if "instanceTemplate" in patch and "versions" not in patch:
            patch["versions"] = [{"instanceTemplate": patch["instanceTemplate"]}]
        self._normalise(project, patch)
        policy = patch.get("updatePolicy")
        if policy is not None:  # JSON merge patch: nested objects merge
            merged = dict(group.body.get("updatePolicy", {}))
            merged.update(policy)
            patch["updatePolicy"] = merged
            if merged.get("type") == "PROACTIVE" and merged.get("minimalAction") not in ("REPLACE", "RESTART",
                                                                                           "REFRESH", "NONE"):
                raise ApiError(400, "invalid", "updatePolicy.minimalAction is required for a PROACTIVE update")
        group.body.update(patch)
        return self._operation(project, zone, "patch", group.body["selfLink"])

    def list_groups(self, project: str, zone: str) -> dict:
        items = [self.group_view(g) for (p, z, _), g in self.groups.items() if (p, z) == (project, zone)]
        return {"kind": "compute#instanceGroupManagerList", "items": items,
                "id": f"projects/{project}/zones/{zone}/instanceGroupManagers",
                "selfLink": f"{API}/projects/{project}/zones/{zone}/instanceGroupManagers"}

    def get_group(self, project: str, zone: str, name: str) -> dict:
        return self.group_view(self._group(project, zone, name))

    def group_view(self, group: Group) -> dict:
        view = dict(group.body)
        target = last_segment(view.get("instanceTemplate", ""))
        size = int(view.get("targetSize", 0))
        actions = dict.fromkeys(("abandoning", "creating", "creatingWithoutRetries", "deleting", "none",
                                 "recreating", "refreshing", "restarting", "resuming", "starting", "stopping",
                                 "suspending", "verifying"), 0)
        for inst in group.instances:
            actions[inst.action.lower()] += 1
        live = [i for i in group.instances if i.action != "DELETING"]
        reached = len(live) == size and all(i.template == target for i in live)
        stable = reached and len(group.instances) == size and all(i.action == "NONE" for i in live)
        view["currentActions"] = actions
        view["status"] = {
            "isStable": stable,
            "versionTarget": {"isReached": reached},
            "stateful": {"hasStatefulConfig": False, "perInstanceConfigs": {"allEffective": True}},
        }
        return view

    def managed_instances(self, project: str, zone: str, name: str) -> dict:
        group = self._group(project, zone, name)
        checks = [p["healthCheck"] for p in group.body.get("autoHealingPolicies", []) if p.get("healthCheck")]
        items = []
        for inst in group.instances:
            health = {"NONE": "HEALTHY", "VERIFYING": "UNKNOWN"}.get(inst.action, "UNHEALTHY")
            if inst.action == "VERIFYING" and inst.age > 0 and not self.healthy(project, inst.template):
                health = "UNHEALTHY"
            items.append({
                "instance": f"{API}/projects/{project}/zones/{zone}/instances/{inst.name}",
                "id": inst.id,
                "name": inst.name,
                "instanceStatus": "PROVISIONING" if inst.action == "CREATING" else
                                  "STOPPING" if inst.action == "DELETING" else "RUNNING",
                "currentAction": inst.action,
                "version": {"instanceTemplate": self.template_url(project, inst.template)},
                "instanceHealth": [{"healthCheck": c, "detailedHealthState": health} for c in checks],
            })
        return {"managedInstances": items}

    # ---- the rollout model ------------------------------------------------------------------------------------
    def tick(self, n: int = 1) -> None:
        for _ in range(n):
            for group in self.groups.values():
                self._advance(group)

    def settle(self, limit: int = 200) -> None:
        """Tick until every group is stable or stuck (for fixtures building production-like groups)."""
        for _ in range(limit):
            if all(self.group_view(g)["status"]["isStable"] for g in self.groups.values()):
                return
            self.tick()

    def _advance(self, group: Group) -> None:
        if self.traffic is not None:
            self._advance_serving(group)
            return
        project = group.project
        autoheal = bool(group.body.get("autoHealingPolicies"))
        kept: list[Instance] = []
        for inst in group.instances:
            inst.age += 1
            if inst.age < self.phase_ticks:
                kept.append(inst)
                continue
            if inst.action == "DELETING":
                continue  # gone
            if inst.action in ("CREATING", "RECREATING"):
                inst.action, inst.age = "VERIFYING", 0
            elif inst.action == "VERIFYING":
                if self.healthy(project, inst.template):
                    inst.action, inst.age = "NONE", 0
                elif autoheal:
                    inst.action, inst.age = "RECREATING", 0  # auto-healing gives up on it and starts it again
                # without a health check the group cannot tell: it stays verifying, never stable
            kept.append(inst)
        group.instances = kept
        self._roll(group)
        live = [i for i in group.instances if i.action != "DELETING"]
        group.history.append((sum(i.action == "NONE" for i in live), len(live)))

    def _advance_serving(self, group: Group) -> None:
        """The same phases, each ended by what really happened on the instance and at the backend service."""
        name = group.body["name"]
        autoheal = bool(group.body.get("autoHealingPolicies"))
        kept: list[Instance] = []
        for inst in group.instances:
            inst.age += 1
            if inst.action == "DELETING":
                if self.traffic.gone(inst.name):
                    continue
            elif inst.action in ("CREATING", "RECREATING"):
                template = self.templates.get((group.project, inst.template), {})
                if self.traffic.booted(inst.name, template) is not None:  # a failed boot fails its health check
                    inst.action, inst.age = "VERIFYING", 0
            elif inst.action == "VERIFYING":
                healthy = self.traffic.healthy(name, inst.name)
                if healthy:
                    inst.action, inst.age = "NONE", 0
                elif autoheal and self.traffic.verifying_for(inst.name) >= _initial_delay(group.body):
                    self.traffic.recreate(name, inst.name)  # auto-healing gives up on it and starts it again
                    inst.action, inst.age = "RECREATING", 0
            kept.append(inst)
        group.instances = kept
        self._roll(group)
        for inst in group.instances:
            if inst.action == "DELETING":
                self.traffic.delete(name, inst.name)  # drains first; idempotent
        live = [i for i in group.instances if i.action != "DELETING"]
        group.history.append((sum(i.action == "NONE" for i in live), len(live)))

    def _roll(self, group: Group) -> None:
        spec = group.body
        target = last_segment(spec.get("instanceTemplate", ""))
        if not target:
            return
        size = int(spec.get("targetSize", 0))
        policy = spec.get("updatePolicy", {})
        surge = _fixed_or_percent(policy.get("maxSurge"), size, default=1)
        unavailable = _fixed_or_percent(policy.get("maxUnavailable"), size, default=1)
        proactive = policy.get("type") == "PROACTIVE"
        live = [i for i in group.instances if i.action != "DELETING"]
        current = [i for i in live if i.template == target]
        outdated = [i for i in live if i.template != target]
        healthy = sum(i.action == "NONE" for i in live)

        # Too many on the target version (the group shrank): drop the extra ones, unhealthy first.
        for inst in sorted(current, key=lambda i: i.action == "NONE")[: max(0, len(current) - size)]:
            healthy -= inst.action == "NONE"
            inst.action, inst.age = "DELETING", 0
            live.remove(inst)
        if proactive or len(live) > size:
            # Replace outdated instances, never dropping below size - maxUnavailable healthy ones.
            for inst in sorted(outdated, key=lambda i: i.action == "NONE"):
                is_healthy = inst.action == "NONE"
                if not proactive and len(live) <= size:
                    break
                if is_healthy and healthy - 1 < size - unavailable:
                    continue
                inst.action, inst.age = "DELETING", 0
                live.remove(inst)
                healthy -= is_healthy
        current = [i for i in live if i.template == target]
        limit = size + surge if proactive else size
        while len(current) < size and len(live) < limit:
            inst = Instance(name=f"{spec.get('baseInstanceName', spec['name'])}-{next(group.serial):04d}",
                            template=target)
            group.instances.append(inst)
            live.append(inst)
            current.append(inst)


def _fixed_or_percent(value: dict | None, size: int, *, default: int) -> int:
    if not value:
        return default
    if "fixed" in value:
        return int(value["fixed"])
    if "percent" in value:
        return math.ceil(size * int(value["percent"]) / 100)
    return default


def _initial_delay(group: dict) -> float:
    """autoHealingPolicies[0].initialDelaySec: how long a new instance may fail its health check before it is
    recreated (the API's default is 300)."""
    policies = group.get("autoHealingPolicies") or [{}]
    return float(policies[0].get("initialDelaySec", 300))
