"""Names and helpers shared by the GCP emulator tests and their fixtures."""

from __future__ import annotations

import hashlib

PROJECT = "dojangkok-test"
REGION = "asia-northeast3"
ZONE = "asia-northeast3-b"  # has T4s
GROUPS = {"ai-server": "dojangkok-ai-server-prd", "vllm": "dojangkok-vllm-prd"}
SIZES = {"ai-server": 3, "vllm": 2}
PIPELINE = "dojangkok-gcp"
TARGET = "prd"


def image(service: str, release: int) -> str:
    """A release's image in Artifact Registry, by tag and digest as publish hands it over."""
    digest = hashlib.sha256(f"{service}-{release}".encode()).hexdigest()
    return f"{REGION}-docker.pkg.dev/{PROJECT}/dojangkok/{service}:prod-v1.0.{release}-a1b2c3d@sha256:{digest}"


def health_check(service: str) -> str:
    return f"projects/{PROJECT}/global/healthChecks/dojangkok-{service}"


class FakeClock:
    """Time that passes only when the driver sleeps: long timeouts cost nothing."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds
