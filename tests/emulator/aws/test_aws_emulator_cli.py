"""`python -m dojangkok_local.aws`: the entry point the README and the bench script use."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.emulator


def test_entry_point_serves_on_localhost_and_stops_cleanly():
    process = subprocess.Popen(
        [sys.executable, "-m", "dojangkok_local.aws", "--port", "0", "--provision", "dev"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        provisioned = json.loads(process.stdout.readline())
        endpoint = process.stdout.readline().strip().removeprefix("export AWS_ENDPOINT_URL=")
        assert endpoint.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{endpoint}/_dojangkok/health", timeout=10) as answer:  # noqa: S310
            assert json.loads(answer.read())["status"] == "ok"
        # The names the pipeline's dev settings use (deploy/environments.toml).
        assert provisioned["application"] == "dojangkok-dev"
        assert provisioned["bucket"] == "dojangkok-dev-codedeploy-bundles"
        assert provisioned["services"]["frontend"]["deployment_group"] == "dojangkok-dev-frontend-bg"
        assert provisioned["services"]["backend"]["blue_asg"] == "dojangkok-dev-backend-asg"
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
