"""Routes to the CodeDeploy emulator: its JSON API names the operation in `X-Amz-Target`, not in the path."""

from __future__ import annotations

TARGET_PREFIX = "CodeDeploy_20141006."  # the API version botocore's service model targets


def operation_of(target: str) -> str | None:
    """The CodeDeploy operation an `X-Amz-Target` header names, or None when it is for another service."""
    return target.removeprefix(TARGET_PREFIX) if target.startswith(TARGET_PREFIX) else None
