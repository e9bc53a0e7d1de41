"""Requests and responses held to the clouds' published API models, so a mistake the drivers and the emulators
share still fails a test.

- AWS: botocore's service models (the JSON AWS publishes for every API). boto3 already refuses unknown and missing
  parameters; `enforce_aws_models(client)` adds what it leaves out (enum values, numeric and length bounds) on every
  request, and checks every parsed response against the operation's output shape.
- GCP: the google-cloud clients' request and resource types (generated from Google's discovery documents).
  `check_gcp_body(api, body, direction)` parses a REST body strictly (unknown fields refused) and checks the
  string-typed Compute enums against the nested Enum types the library carries; the GCP fake runs it on every
  request it receives and every response it sends.
"""

from __future__ import annotations

import json
import re
from typing import Any


class ApiModelError(AssertionError):
    """A request or response outside the cloud's published API model."""


# ---------------------------------------------------------------------------------------------------------- AWS


def aws_problems(value: Any, shape: Any, path: str = "") -> list[str]:
    """Where ``value`` leaves botocore ``shape``: types, required and unknown members, enums, bounds."""
    kind = shape.type_name
    where = path or shape.name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: expected a structure, got {type(value).__name__}"]
        found = [f"{where}: unknown member {key!r}" for key in value if key not in shape.members]
        found += [f"{where}: missing required {key!r}" for key in shape.required_members if key not in value]
        for key, item in value.items():
            if key in shape.members:
                found += aws_problems(item, shape.members[key], f"{where}.{key}")
        return found
    if kind == "list":
        if not isinstance(value, list | tuple):
            return [f"{where}: expected a list, got {type(value).__name__}"]
        return _bounds(len(value), shape, where, "items") + [
            p for i, item in enumerate(value) for p in aws_problems(item, shape.member, f"{where}[{i}]")
        ]
    if kind == "map":
        if not isinstance(value, dict):
            return [f"{where}: expected a map, got {type(value).__name__}"]
        return [p for k, v in value.items() for p in aws_problems(v, shape.value, f"{where}[{k!r}]")]
    if kind == "string":
        if not isinstance(value, str):
            return [f"{where}: expected a string, got {type(value).__name__}"]
        enum = shape.enum
        if enum and value not in enum:
            return [f"{where}: {value!r} is not one of {', '.join(enum)}"]
        return _bounds(len(value), shape, where, "characters")
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return [f"{where}: expected an integer, got {type(value).__name__}"]
        return _bounds(value, shape, where, "")
    if kind == "boolean" and not isinstance(value, bool):
        return [f"{where}: expected a boolean, got {type(value).__name__}"]
    return []


def _bounds(size: int, shape: Any, where: str, unit: str) -> list[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and size < low:
        return [f"{where}: {size} {unit} is below the minimum {low}".replace("  ", " ")]
    if high is not None and size > high:
        return [f"{where}: {size} {unit} is above the maximum {high}".replace("  ", " ")]
    return []


def enforce_aws_models(client: Any) -> Any:
    """Make every call of this boto3 client check its request and its parsed response against the model."""

    def check_request(params: dict, model: Any, **_: Any) -> None:
        found = aws_problems(params, model.input_shape) if model.input_shape is not None else []
        if found:
            raise ApiModelError(f"{model.service_model.service_name}.{model.name} request: " + "; ".join(found))

    def check_response(parsed: dict, model: Any, **_: Any) -> None:
        if model.output_shape is None or "Error" in parsed:
            return
        found = aws_problems({k: v for k, v in parsed.items() if k != "ResponseMetadata"}, model.output_shape)
        if found:
            raise ApiModelError(f"{model.service_model.service_name}.{model.name} response: " + "; ".join(found))

    client.meta.events.register("before-parameter-build", check_request)
    client.meta.events.register("after-call", check_response)
    return client


# ---------------------------------------------------------------------------------------------------------- GCP


def _gcp_types() -> dict[str, tuple[Any, Any]]:
    """REST method -> (request body type, response type) of the google-cloud clients."""
    from google.cloud import compute_v1 as c
    from google.cloud import deploy_v1 as d
    from google.longrunning import operations_pb2

    return {
        "clouddeploy.operations.get": (None, operations_pb2.Operation),
        "compute.instanceTemplates.insert": (c.InstanceTemplate, c.Operation),
        "compute.instanceTemplates.get": (None, c.InstanceTemplate),
        "compute.instanceTemplates.list": (None, c.InstanceTemplateList),
        "compute.instanceTemplates.delete": (None, c.Operation),
        "compute.globalOperations.get": (None, c.Operation),
        "compute.globalOperations.wait": (None, c.Operation),
        "compute.zoneOperations.get": (None, c.Operation),
        "compute.zoneOperations.wait": (None, c.Operation),
        "compute.instanceGroupManagers.insert": (c.InstanceGroupManager, c.Operation),
        "compute.instanceGroupManagers.get": (None, c.InstanceGroupManager),
        "compute.instanceGroupManagers.list": (None, c.InstanceGroupManagerList),
        "compute.instanceGroupManagers.patch": (c.InstanceGroupManager, c.Operation),
        "compute.instanceGroupManagers.listManagedInstances": (
            None, c.InstanceGroupManagersListManagedInstancesResponse),
        "clouddeploy.deliveryPipelines.create": (d.DeliveryPipeline, None),
        "clouddeploy.deliveryPipelines.get": (None, d.DeliveryPipeline),
        "clouddeploy.deliveryPipelines.list": (None, d.ListDeliveryPipelinesResponse),
        "clouddeploy.deliveryPipelines.rollbackTarget": (d.RollbackTargetRequest, d.RollbackTargetResponse),
        "clouddeploy.targets.create": (d.Target, None),
        "clouddeploy.targets.get": (None, d.Target),
        "clouddeploy.releases.create": (d.Release, None),
        "clouddeploy.releases.get": (None, d.Release),
        "clouddeploy.releases.list": (None, d.ListReleasesResponse),
        "clouddeploy.rollouts.create": (d.Rollout, None),
        "clouddeploy.rollouts.get": (None, d.Rollout),
        "clouddeploy.rollouts.list": (None, d.ListRolloutsResponse),
        "clouddeploy.rollouts.cancel": (d.CancelRolloutRequest, d.CancelRolloutResponse),
    }


_TYPES: dict[str, tuple[Any, Any]] | None = None


def _enum_name(field: str) -> str:
    return "".join(part.capitalize() for part in field.rstrip("_").split("_"))


ADDITIONAL = re.compile(r"Additional\s+supported\s+values\s+which\s+may\s+be\s+not\s+listed[^:]*:(.*?)Values:", re.S)


def _enum_values(enum: Any) -> set[str]:
    """The enum's members, plus the values its generated docstring lists as "not in the enum directly"."""
    values = {member.name for member in enum if not member.name.startswith("UNDEFINED_")}
    extra = ADDITIONAL.search(enum.__doc__ or "")
    return values | (set(extra.group(1).split()) if extra else set())


def _compute_enums(message: Any, path: str) -> list[str]:
    """Compute's enums travel as strings; the library declares them as nested Enums named after the field."""
    found = []
    cls = type(message)
    for name, field in cls.meta.fields.items():
        value = getattr(message, name)
        if field.message is not None:
            items = value if field.repeated else [value] if name in message else []
            if isinstance(items, dict | type(None)):
                continue
            for i, item in enumerate(items):
                if hasattr(type(item), "meta"):
                    found += _compute_enums(item, f"{path}.{name}[{i}]" if field.repeated else f"{path}.{name}")
            continue
        enum = getattr(cls, _enum_name(name), None)
        if enum is None or not isinstance(value, str) or not value:
            continue
        members = _enum_values(enum)
        if members and value not in members:
            found.append(f"{path}.{name}: {value!r} is not one of {', '.join(sorted(members))}")
    return found


def check_gcp_body(api: str, body: dict, direction: str) -> list[str]:
    """Where a REST body of ``api`` ('request' or 'response') leaves the client library's type for it."""
    global _TYPES
    _TYPES = _TYPES or _gcp_types()
    if api not in _TYPES:
        return [f"{api}: no API model known for it (add it to api_models)"]
    cls = _TYPES[api][0 if direction == "request" else 1]
    if cls is None or (direction == "request" and not body):
        return []
    try:
        if hasattr(cls, "from_json"):  # a proto-plus type of the client library
            message = cls.from_json(json.dumps(body), ignore_unknown_fields=False)
        else:  # a plain protobuf message (google.longrunning)
            from google.protobuf import json_format

            message = json_format.Parse(json.dumps(body), cls(), ignore_unknown_fields=False)
    except Exception as error:  # json_format.ParseError: unknown field, wrong type
        reason = re.sub(r"\s+", " ", str(error))
        return [f"{api} {direction}: {reason}"]
    return _compute_enums(message, f"{api} {direction}") if api.startswith("compute.") else []
