"""CodeDeploy's JSON 1.1 wire format: request bodies checked and turned into model calls, results into responses."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from dojangkok_local.aws.codedeploy.exceptions import ApiError
from dojangkok_local.aws.codedeploy.models import GROUP_SETTINGS, CodeDeploy

CONTENT_TYPE = "application/x-amz-json-1.1"
GROUP_FIELDS = (*GROUP_SETTINGS, "autoScalingGroups", "deploymentConfigName")  # request members that shape a group
BATCH_LIMIT = 25  # deploymentIds / targetIds per Batch* call, as the API model says


class CodeDeployResponses:
    """One `_op_<Operation>` per emulated operation; each runs under the service's lock, so a call sees one state.

    Checks interleave with lookups in the order the emulator has always answered them (an unknown application
    before a missing deployment group name, for instance), so the first error a bad request meets stays the same.
    """

    def __init__(self, codedeploy: CodeDeploy) -> None:
        self.codedeploy = codedeploy

    def dispatch(self, operation: str, body: bytes, region: str) -> tuple[int, dict[str, str], str]:
        """An HTTP exchange: status, headers and body of the answer to `operation` with this request body."""
        try:
            payload = json.loads(body or b"{}")
            result = self.handle(operation, payload, region)
            status = 200
        except ApiError as error:
            result, status = {"__type": error.code, "message": error.message}, error.status
        except json.JSONDecodeError as error:
            result, status = {"__type": "SerializationException", "message": str(error)}, 400
        return status, {"Content-Type": CONTENT_TYPE, "x-amzn-RequestId": str(uuid.uuid4())}, json.dumps(result)

    def handle(self, operation: str, body: dict, region: str) -> dict:
        handler: Callable[[dict, str], dict] | None = getattr(self, f"_op_{operation}", None)
        if handler is None:
            raise ApiError("UnknownOperationException", f"CodeDeploy {operation} is not emulated")
        with self.codedeploy.lock:
            return handler(body, region)

    # -- applications -------------------------------------------------------------------------------------------

    def _op_CreateApplication(self, body: dict, region: str) -> dict:
        name = _required(body, "applicationName")
        app = self.codedeploy.create_application(name, body.get("computePlatform", "Server"))
        return {"applicationId": app["applicationId"]}

    def _op_GetApplication(self, body: dict, region: str) -> dict:
        return {"application": self.codedeploy.application(_required(body, "applicationName"))}

    def _op_ListApplications(self, body: dict, region: str) -> dict:
        return {"applications": sorted(self.codedeploy.applications)}

    def _op_DeleteApplication(self, body: dict, region: str) -> dict:
        self.codedeploy.delete_application(_required(body, "applicationName"))
        return {}

    # -- deployment groups --------------------------------------------------------------------------------------

    def _op_CreateDeploymentGroup(self, body: dict, region: str) -> dict:
        application = self.codedeploy.application(_required(body, "applicationName"))["applicationName"]
        name = _required(body, "deploymentGroupName")
        self.codedeploy.refuse_existing_group(application, name)
        _required(body, "serviceRoleArn")
        group = self.codedeploy.create_deployment_group(application, name, region, _group_fields(body))
        return {"deploymentGroupId": group["deploymentGroupId"]}

    def _op_UpdateDeploymentGroup(self, body: dict, region: str) -> dict:
        application = _required(body, "applicationName")
        current = _required(body, "currentDeploymentGroupName")
        new_name = body.get("newDeploymentGroupName")
        self.codedeploy.update_deployment_group(application, current, new_name, _group_fields(body))
        return {"hooksNotCleanedUp": []}

    def _op_GetDeploymentGroup(self, body: dict, region: str) -> dict:
        group = self.codedeploy.group(_required(body, "applicationName"), _required(body, "deploymentGroupName"))
        return {"deploymentGroupInfo": _public(group)}

    def _op_ListDeploymentGroups(self, body: dict, region: str) -> dict:
        application = self.codedeploy.application(_required(body, "applicationName"))["applicationName"]
        return {"applicationName": application, "deploymentGroups": self.codedeploy.deployment_group_names(application)}

    def _op_DeleteDeploymentGroup(self, body: dict, region: str) -> dict:
        application = _required(body, "applicationName")
        self.codedeploy.delete_deployment_group(application, _required(body, "deploymentGroupName"))
        return {"hooksNotCleanedUp": []}

    # -- deployments --------------------------------------------------------------------------------------------

    def _op_CreateDeployment(self, body: dict, region: str) -> dict:
        application = self.codedeploy.application(_required(body, "applicationName"))["applicationName"]
        deployment = self.codedeploy.create_deployment(
            application,
            _required(body, "deploymentGroupName"),
            body.get("revision"),
            description=body.get("description"),
            overrides={k: body[k] for k in ("autoRollbackConfiguration",) if k in body},
        )
        return {"deploymentId": deployment["deploymentId"]}

    def _op_GetDeployment(self, body: dict, region: str) -> dict:
        return {"deploymentInfo": _public(self.codedeploy.deployment(_required(body, "deploymentId")))}

    def _op_BatchGetDeployments(self, body: dict, region: str) -> dict:
        ids = body.get("deploymentIds") or []
        if len(ids) > BATCH_LIMIT:
            raise ApiError("BatchLimitExceededException", "The maximum number of deployment IDs is 25")
        return {"deploymentsInfo": [_public(d) for d in self.codedeploy.known_deployments(ids)]}

    def _op_ListDeployments(self, body: dict, region: str) -> dict:
        application = body.get("applicationName")
        group_name = body.get("deploymentGroupName")
        if group_name and not application:
            raise ApiError("ApplicationNameRequiredException", "applicationName is required with deploymentGroupName")
        found = self.codedeploy.list_deployments(application, group_name, body.get("includeOnlyStatuses"))
        return {"deployments": [d["deploymentId"] for d in found]}

    def _op_StopDeployment(self, body: dict, region: str) -> dict:
        roll_back = bool(body.get("autoRollbackEnabled", False))
        self.codedeploy.stop_deployment(_required(body, "deploymentId"), roll_back)
        return {"status": "Pending", "statusMessage": "Stop request received; the deployment is being stopped"}

    def _op_ContinueDeployment(self, body: dict, region: str) -> dict:
        self.codedeploy.continue_deployment(_required(body, "deploymentId"))
        return {}

    def _op_ListDeploymentTargets(self, body: dict, region: str) -> dict:
        return {"targetIds": self.codedeploy.target_ids(_required(body, "deploymentId"))}

    def _op_BatchGetDeploymentTargets(self, body: dict, region: str) -> dict:
        deployment = self.codedeploy.deployment(_required(body, "deploymentId"))
        wanted = body.get("targetIds") or []
        if len(wanted) > BATCH_LIMIT:
            raise ApiError("DeploymentTargetListSizeExceededException", "The maximum number of targets is 25")
        return {"deploymentTargets": self.codedeploy.instance_targets(deployment, wanted)}


def _required(body: dict, key: str) -> Any:
    if not body.get(key):
        raise ApiError("ValidationException", f"{key} is required")
    return body[key]


def _group_fields(body: dict) -> dict:
    """Only the members the request has: an absent one leaves the group's value as it was."""
    return {key: body[key] for key in GROUP_FIELDS if key in body}


def _public(record: dict) -> dict:
    """The wire view: internal bookkeeping (keys starting with `_`) stays in the emulator."""
    return {k: v for k, v in record.items() if not k.startswith("_") and v is not None}
