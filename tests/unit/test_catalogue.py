"""The service catalogue: the design brief's services table, written out, and lookups by name."""

import pytest
from dojangkok.catalogue import (
    AMD64,
    ARM64,
    BUILT,
    BY_NAME,
    SERVICES,
    Cloud,
    RegistryKind,
    Strategy,
    UnknownServiceError,
    select,
    service,
)

pytestmark = pytest.mark.unit

GB = 1024
# name: base image, platforms, port, cloud, registry, strategy, memory MiB, vCPU, instance type, accelerator
EXPECTED = {
    "frontend": ("node:20-alpine", (ARM64,), 3000, Cloud.AWS, RegistryKind.ECR, Strategy.BLUE_GREEN, 1 * GB, 1,
                 "m7g.medium", ""),
    "backend": ("amazoncorretto:21-alpine", (ARM64,), 8080, Cloud.AWS, RegistryKind.ECR, Strategy.BLUE_GREEN, 2 * GB,
                1, "m7g.medium", ""),
    "ai-server": ("python:3.11-slim", (ARM64, AMD64), 8100, Cloud.GCP, RegistryKind.ARTIFACT_REGISTRY, Strategy.ROLLING,
                  1 * GB, 2, "n2d-standard-2", ""),
    "vllm": ("vllm/vllm-openai:v0.32.0", (AMD64,), 8001, Cloud.GCP, RegistryKind.ARTIFACT_REGISTRY, Strategy.ROLLING,
             16 * GB, 4, "g2-standard-4", "nvidia-l4"),
    "chromadb": ("chromadb/chroma:1.0", (ARM64,), 8000, Cloud.GCP, None, Strategy.PINNED, 4 * GB, 2, "", ""),
    "mysql": ("mysql:8.0", (), 3306, Cloud.AWS, None, Strategy.NOT_DEPLOYED, 2 * GB, 1, "", ""),
    "mongo": ("mongo:7.0", (), 27017, Cloud.AWS, None, Strategy.NOT_DEPLOYED, 1 * GB, 1, "", ""),
    "redis": ("redis:7-alpine", (), 6379, Cloud.AWS, None, Strategy.NOT_DEPLOYED, 512, 0.5, "", ""),
}  # fmt: skip


def test_every_service_is_in_the_catalogue_once():
    assert [s.name for s in SERVICES] == list(EXPECTED)
    assert set(BY_NAME) == set(EXPECTED)


@pytest.mark.parametrize("name", EXPECTED)
def test_service_row(name):
    svc = BY_NAME[name]
    base, platforms, port, cloud, registry, strategy, memory, cpus, instance, accelerator = EXPECTED[name]
    assert svc.base_image == base
    assert svc.platforms == platforms
    assert svc.port == port
    assert svc.cloud is cloud
    assert svc.registry is registry
    assert svc.strategy is strategy
    assert svc.memory_mib == memory
    assert svc.cpus == cpus
    assert svc.instance_type == instance
    assert svc.accelerator == accelerator


def test_built_services_and_their_files():
    assert [s.name for s in BUILT] == ["frontend", "backend", "ai-server", "vllm"]
    for svc in BUILT:
        assert svc.built and svc.deployed
        assert svc.dockerfile == f"dockerfiles/{svc.name}.Dockerfile"
        assert svc.context == f"services/{svc.name}"
        assert svc.health_path.startswith("/")
        assert svc.instance_type
        # AWS services go to ECR and Blue/Green; GCP ones to Artifact Registry and rolling updates.
        if svc.cloud is Cloud.AWS:
            assert (svc.registry, svc.strategy) == (RegistryKind.ECR, Strategy.BLUE_GREEN)
        else:
            assert (svc.registry, svc.strategy) == (RegistryKind.ARTIFACT_REGISTRY, Strategy.ROLLING)


def test_stock_services_are_neither_built_nor_deployed():
    for name in ("chromadb", "mysql", "mongo", "redis"):
        assert not BY_NAME[name].built and not BY_NAME[name].deployed


def test_service_lookup_and_selection():
    assert service("vllm") is BY_NAME["vllm"]
    assert select(None) == BUILT and select([]) == BUILT
    assert [s.name for s in select(["vllm", "frontend", "vllm"])] == ["frontend", "vllm"]
    for bad in ("web", "chromadb", "redis", ""):
        with pytest.raises(UnknownServiceError, match="the pipeline builds frontend, backend, ai-server, vllm"):
            service(bad)
    assert issubclass(UnknownServiceError, ValueError)
