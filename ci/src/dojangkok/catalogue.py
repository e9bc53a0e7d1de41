"""The service catalogue: the one place that says what Dojangkok runs and how it ships.

Build, test, publish, deploy, the workflows and the docs read this table; nothing else repeats it.
Plain Python, importable without a Dagger engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Cloud(enum.StrEnum):
    AWS = "aws"
    GCP = "gcp"


class RegistryKind(enum.StrEnum):
    ECR = "ecr"
    ARTIFACT_REGISTRY = "artifact-registry"


class Strategy(enum.StrEnum):
    """How a release reaches its servers."""

    BLUE_GREEN = "blue-green"  # CodeDeploy EC2 Blue/Green behind an ALB
    ROLLING = "rolling"  # GCP managed instance group, proactive rolling update
    PINNED = "pinned"  # a stock image at a fixed tag, not built or rolled by the pipeline
    NOT_DEPLOYED = "not-deployed"  # runs natively in production (§2); only in the local compose stack


AMD64 = "linux/amd64"
ARM64 = "linux/arm64"


@dataclass(frozen=True)
class Service:
    name: str
    base_image: str  # the production runtime base (a Dockerfile ARG default for built services)
    platforms: tuple[str, ...]
    port: int
    cloud: Cloud
    strategy: Strategy
    memory_mib: int
    cpus: float
    health_path: str = ""
    metrics_path: str = ""  # where Prometheus scrapes its request metrics (the analysis gate's input), if anywhere
    registry: RegistryKind | None = None
    instance_type: str = ""
    accelerator: str = ""  # GCP accelerator type, e.g. nvidia-l4 (checked against machines.py)

    @property
    def built(self) -> bool:
        """Built, tested and published by the pipeline (has a Dockerfile and a registry)."""
        return self.registry is not None

    @property
    def dockerfile(self) -> str:
        return f"dockerfiles/{self.name}.Dockerfile"

    @property
    def context(self) -> str:
        """Build context, relative to the repository root (for vLLM: its launch configuration)."""
        return f"services/{self.name}"

    @property
    def deployed(self) -> bool:
        return self.strategy in (Strategy.BLUE_GREEN, Strategy.ROLLING)


SERVICES: tuple[Service, ...] = (
    Service(
        name="frontend",
        base_image="node:20-alpine",
        platforms=(ARM64,),
        port=3000,
        health_path="/api/health",
        cloud=Cloud.AWS,
        registry=RegistryKind.ECR,
        strategy=Strategy.BLUE_GREEN,
        instance_type="m7g.medium",
        memory_mib=1024,
        cpus=1,
    ),
    Service(
        name="backend",
        base_image="amazoncorretto:21-alpine",
        platforms=(ARM64,),
        port=8080,
        health_path="/actuator/health",
        metrics_path="/actuator/prometheus",
        cloud=Cloud.AWS,
        registry=RegistryKind.ECR,
        strategy=Strategy.BLUE_GREEN,
        instance_type="m7g.medium",
        memory_mib=2048,
        cpus=1,
    ),
    Service(
        name="ai-server",
        base_image="python:3.11-slim",
        platforms=(ARM64, AMD64),  # one index: Arm machine types and n2d-standard-2 (x86, seed §8.2) alike
        port=8100,
        health_path="/health",
        metrics_path="/metrics",
        cloud=Cloud.GCP,
        registry=RegistryKind.ARTIFACT_REGISTRY,
        strategy=Strategy.ROLLING,
        instance_type="n2d-standard-2",
        memory_mib=1024,
        cpus=2,
    ),
    Service(
        name="vllm",
        base_image="vllm/vllm-openai:v0.32.0",
        platforms=(AMD64,),
        port=8001,
        health_path="/health",
        cloud=Cloud.GCP,
        registry=RegistryKind.ARTIFACT_REGISTRY,
        strategy=Strategy.ROLLING,
        instance_type="g2-standard-4",
        accelerator="nvidia-l4",  # what g2-standard-4 comes with (a T4 attaches to N1 machines only)
        memory_mib=16384,
        cpus=4,
    ),
    Service(
        name="chromadb",
        base_image="chromadb/chroma:1.0",
        platforms=(ARM64,),
        port=8000,
        health_path="/api/v2/heartbeat",
        cloud=Cloud.GCP,
        strategy=Strategy.PINNED,
        memory_mib=4096,
        cpus=2,
    ),
    Service(
        name="mysql",
        base_image="mysql:8.0",
        platforms=(),
        port=3306,
        cloud=Cloud.AWS,
        strategy=Strategy.NOT_DEPLOYED,
        memory_mib=2048,
        cpus=1,
    ),
    Service(
        name="mongo",
        base_image="mongo:7.0",
        platforms=(),
        port=27017,
        cloud=Cloud.AWS,
        strategy=Strategy.NOT_DEPLOYED,
        memory_mib=1024,
        cpus=1,
    ),
    Service(
        name="redis",
        base_image="redis:7-alpine",
        platforms=(),
        port=6379,
        cloud=Cloud.AWS,
        strategy=Strategy.NOT_DEPLOYED,
        memory_mib=512,
        cpus=0.5,
    ),
)

BY_NAME: dict[str, Service] = {s.name: s for s in SERVICES}
BUILT: tuple[Service, ...] = tuple(s for s in SERVICES if s.built)


class UnknownServiceError(ValueError):
    pass


def service(name: str) -> Service:
    """The catalogue entry for a service the pipeline builds, or a clear error naming the valid ones."""
    if name in BY_NAME and BY_NAME[name].built:
        return BY_NAME[name]
    valid = ", ".join(s.name for s in BUILT)
    raise UnknownServiceError(f"unknown service {name!r}: the pipeline builds {valid} (pass --service NAME)")


def select(names: list[str] | None) -> tuple[Service, ...]:
    """The built services named (validated, catalogue order), or all of them when none are named."""
    if not names:
        return BUILT
    wanted = {service(n).name for n in names}
    return tuple(s for s in BUILT if s.name in wanted)
