"""A request the emulator would accept but the cloud's published API model rejects still fails.

The mutation below plays a mistake the driver and the emulator share: the emulator's state machine takes it, so
only the model check (the google-cloud client types, at the fake's wire layer) stops it.
"""

from __future__ import annotations

import pytest
from dojangkok.deploy import DeployError, Outcome
from dojangkok.deploy.rolling import RollingUpdate, gcp_clients
from dojangkok_local import startup_template
from dojangkok_local.gcp.seed import GROUPS, PROJECT, ZONE, release_image, seed_groups
from dojangkok_local.gcp.server import running

pytestmark = pytest.mark.emulator

AI = GROUPS["ai-server"]


@pytest.mark.parametrize("check_model", [False, True])
def test_a_compute_request_outside_the_model_fails_though_the_fake_takes_it(monkeypatch, check_model):
    original = RollingUpdate.update_patch

    def wrong_replacement_method(self, template):
        patch = original(self, template)
        patch.update_policy.replacement_method = "SUBSTITUTION"  # no such ReplacementMethod (SUBSTITUTE, RECREATE)
        return patch

    monkeypatch.setattr(RollingUpdate, "update_patch", wrong_replacement_method)
    with running(check_model=check_model) as gcp:
        driver = RollingUpdate(project=PROJECT, zone=ZONE, clients=gcp_clients(PROJECT, endpoint=gcp.endpoint),
                               poll_initial=0.01, poll_max=0.05, startup_template=startup_template())
        seed_groups(driver.clients, driver, {"ai-server": AI}, {"ai-server": release_image("ai-server", 1)})
        gcp.settle()
        if not check_model:
            result = driver.deploy("ai-server", release_image("ai-server", 2), group=AI)
            assert result.outcome is Outcome.SUCCEEDED  # the fake's state machine never reads the method
            return
        refused = r"update_policy\.replacement_method: 'SUBSTITUTION' is not one of RECREATE, SUBSTITUTE"
        with pytest.raises(DeployError, match=refused):
            driver.deploy("ai-server", release_image("ai-server", 2), group=AI)
