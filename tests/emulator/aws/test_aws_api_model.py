"""A request the emulator would accept but the cloud's published API model rejects still fails.

The mutation below plays a mistake the driver and the emulator share: the emulator's state machine takes it, so
only the model check (botocore's service model, on the client) stops it.
"""

from __future__ import annotations

import pytest
from dojangkok.deploy import Outcome
from dojangkok.deploy.blue_green import Backoff, BlueGreen, aws_clients
from dojangkok_local import BUNDLE_DIR
from dojangkok_local.api_models import ApiModelError, enforce_aws_models
from dojangkok_local.aws.infra import REGION, ecr_image

pytestmark = pytest.mark.emulator


def blue_green_with(emulator, session, infra, *, enforced: bool) -> BlueGreen:
    clients = aws_clients(REGION, emulator.endpoint, session=session)
    if enforced:
        enforce_aws_models(clients.codedeploy)

    def wrong_overwrite_mode(params: dict, **_) -> None:  # "REPLACE" is no FileExistsBehavior
        params["fileExistsBehavior"] = "REPLACE"

    clients.codedeploy.meta.events.register_first("before-parameter-build.codedeploy.CreateDeployment",
                                                  wrong_overwrite_mode)
    return BlueGreen(clients, bucket=infra.bucket, backoff=Backoff(0.02, 1.5, 0.1), timeout=30, stop_timeout=30,
                     bundle_dir=BUNDLE_DIR)


def test_a_codedeploy_request_outside_the_model_fails_though_the_emulator_takes_it(emulator, session, infra):
    group = infra.services["frontend"].deployment_group
    accepted = blue_green_with(emulator, session, infra, enforced=False).deploy(
        "frontend", ecr_image("frontend", "1"), application=infra.application, deployment_group=group)
    assert accepted.outcome is Outcome.SUCCEEDED  # the emulator alone would let the mistake through
    with pytest.raises(ApiModelError, match="fileExistsBehavior: 'REPLACE' is not one of DISALLOW, OVERWRITE, RETAIN"):
        blue_green_with(emulator, session, infra, enforced=True).deploy(
            "frontend", ecr_image("frontend", "2"), application=infra.application, deployment_group=group)
