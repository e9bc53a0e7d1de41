"""A stateful CodeDeploy (EC2/Server, Blue/Green) for the local AWS emulator, laid out the way moto lays out a service.

moto models CodeDeploy's create/get/list calls but a deployment stays `Created` forever, nothing is copied or
switched, StopDeployment/ContinueDeployment are missing and GetDeploymentGroup drops the Auto Scaling groups.
This package answers the CodeDeploy JSON API itself and acts on moto's EC2 / Auto Scaling / ELBv2 state the way the
real service does: copy the blue Auto Scaling group into a green one, run the lifecycle events, check green's
health, switch the ALB listener, terminate blue after the wait, or roll back and remove green. A control hook marks
a group's green fleet healthy, unhealthy, or hanging (never validates).

The behaviour to check against AWS's documentation:
    models.py      applications, deployment groups, deployments and their rules (`CodeDeploy`, `Timing`)
    lifecycle.py   one deployment's run: events, Ready wait, traffic switch, blue's termination, rollback
    fleets.py      the blue and green fleets in moto's Auto Scaling and ELBv2
The plumbing to check against the API model:
    responses.py   request bodies to model calls, results and errors to JSON responses
    urls.py        which requests are CodeDeploy's (`X-Amz-Target`); server.py routes them here
    exceptions.py  error responses, and how a deployment's run ends
"""

from dojangkok_local.aws.codedeploy.exceptions import ApiError
from dojangkok_local.aws.codedeploy.models import GREEN_HEALTH, CodeDeploy, Timing
from dojangkok_local.aws.codedeploy.responses import CodeDeployResponses
from dojangkok_local.aws.codedeploy.urls import TARGET_PREFIX, operation_of

__all__ = ["GREEN_HEALTH", "TARGET_PREFIX", "ApiError", "CodeDeploy", "CodeDeployResponses", "Timing", "operation_of"]
