"""How CodeDeploy says no: an error response to an API call, or the end of a deployment's run."""

from __future__ import annotations


class ApiError(Exception):
    """A CodeDeploy error response: botocore raises it as ClientError with this code."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class DeploymentStopped(Exception):
    """StopDeployment, the ready wait running out, or a reset of the emulator ended the run."""


class DeploymentFailure(Exception):
    """The deployment failed; `code` and `message` become its errorInformation."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
