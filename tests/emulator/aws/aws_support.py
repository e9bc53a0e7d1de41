"""Helpers shared by the AWS emulator tests (a uniquely named module: every test directory has a conftest)."""

from __future__ import annotations

import time

from dojangkok_local.aws_infra import ACCOUNT

REGION = "ap-northeast-2"


def image(service: str, fill: str) -> str:
    """An ECR reference by digest, as `publish` produces it."""
    return f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/dojangkok/{service}@sha256:{fill * 64}"


class FakeClock:
    """Time that moves only when the driver sleeps (plus a real pause so the emulator's threads progress)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        time.sleep(0.02)
