"""Names and helpers shared by the GCP emulator tests and their fixtures."""

from __future__ import annotations

from dojangkok_local.gcp_seed import first_image

PROJECT = "dojangkok-test"
REGION = "asia-northeast3"
ZONE = "asia-northeast3-b"  # has T4s
GROUPS = {"ai-server": "dojangkok-ai-server-prd", "vllm": "dojangkok-vllm-prd"}
SIZES = {"ai-server": 3, "vllm": 2}
PIPELINE = "dojangkok-gcp"
TARGET = "prd"


def image(service: str, release: int) -> str:
    """A release's image in Artifact Registry, by tag and digest as publish hands it over."""
    return first_image(REGION, PROJECT, "dojangkok", service, release)


class FakeClock:
    """Time that passes only when the driver sleeps: long timeouts cost nothing."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
