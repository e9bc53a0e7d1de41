"""The service catalogue against the services table of the design brief.

The expected values are written out here; when the brief is reachable (a checkout beside ``shared/``, as in CI),
its Markdown table is parsed and compared too, so the two cannot drift apart unnoticed.
"""

import re
from pathlib import Path

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

DESIGN = Path(__file__).resolve().parents[2].parent / "shared" / "DESIGN.md"

GB = 1024
# name: base image, platforms, port, cloud, registry, strategy, memory MiB, vCPU, instance type, accelerator
EXPECTED = {
    "frontend": ("node:20-alpine", (ARM64,), 3000, Cloud.AWS, RegistryKind.ECR, Strategy.BLUE_GREEN, 1 * GB, 1,
                 "m7g.medium", ""),
    "backend": ("amazoncorretto:21-alpine", (ARM64,), 8080, Cloud.AWS, RegistryKind.ECR, Strategy.BLUE_GREEN, 2 * GB,
                1, "m7g.medium", ""),
    "ai-server": ("python:3.11-slim", (ARM64,), 8100, Cloud.GCP, RegistryKind.ARTIFACT_REGISTRY, Strategy.ROLLING,
                  1 * GB, 2, "n2d-standard-2", ""),
    "vllm": ("vllm/vllm-openai:v0.4.0", (AMD64,), 8001, Cloud.GCP, RegistryKind.ARTIFACT_REGISTRY, Strategy.ROLLING,
             16 * GB, 4, "g2-standard-4", "nvidia-tesla-t4"),
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


# ------------------------------------------------------------------------------------------ cross-check


def _design_rows() -> list[list[str]]:
    text = DESIGN.read_text(encoding="utf-8")
    section = text[text.index("## Services") :]
    section = section[: section.index("\n\n", section.index("|"))]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")] for line in section.splitlines()[1:]]
    return [row for row in rows if row and not set(row[0]) <= {"-"} and row[0] != "service"]


def _memory_mib(text: str) -> int:
    number, unit = re.fullmatch(r"([0-9.]+)\s*(GB|MB)", text.strip()).groups()
    return int(float(number) * (1024 if unit == "GB" else 1))


ARCH = {"arm64": (ARM64,), "amd64 + CUDA": (AMD64,)}
DEPLOY = {
    "CodeDeploy Blue/Green": Strategy.BLUE_GREEN,
    "MIG rolling": Strategy.ROLLING,
    "pinned image": Strategy.PINNED,
    "not deployed by the pipeline": Strategy.NOT_DEPLOYED,
}
REGISTRY = {"ECR": RegistryKind.ECR, "Artifact Registry": RegistryKind.ARTIFACT_REGISTRY, "—": None}


@pytest.mark.skipif(
    not DESIGN.is_file(),
    reason=(
        f"needs the design brief at {DESIGN}: the steering repo's shared/ that CI lays beside the checkout "
        "(issue 3's catalogue check; the catalogue's values are also asserted explicitly above)"
    ),
)
def test_catalogue_matches_the_design_table():
    seen = set()
    for service_cell, base, arch, port, cloud, registry, deploy, resources in _design_rows():
        if "/" in port:  # the stock databases share one row: "mysql 8.0, mongo 7.0, redis 7-alpine"
            names = [part.split()[0] for part in service_cell.split(",")]
            bases = [f"{part.split()[0]}:{part.split()[1]}" for part in service_cell.split(",")]
            ports = [int(p) for p in port.split("/")]
            memories = [_memory_mib(m) for m in resources.split(",")]
            for name, image, number, memory in zip(names, bases, ports, memories, strict=True):
                svc = BY_NAME[name]
                assert (svc.base_image, svc.port, svc.memory_mib) == (image, number, memory), name
                assert svc.cloud is Cloud(cloud.split()[0].lower()), name
                assert svc.registry is REGISTRY[registry] and svc.strategy is DEPLOY[deploy], name
                seen.add(name)
            continue
        name = service_cell.split()[0]
        svc = BY_NAME[name]
        assert svc.base_image == base.split(",")[0].split(" (")[0], name
        assert svc.platforms == ARCH[arch], name
        assert svc.port == int(port), name
        assert svc.cloud is Cloud(cloud.lower()), name
        assert svc.registry is REGISTRY[registry], name
        assert svc.strategy is DEPLOY[deploy], name
        size, _, machine = resources.partition(",")
        memory, cpus = size.split("/")
        assert svc.memory_mib == _memory_mib(memory), name
        assert svc.cpus == float(cpus.split()[0]), name
        if machine:
            instance, _, accelerator = machine.strip().partition(" + ")
            assert svc.instance_type == instance, name
            assert (accelerator == "T4") == (svc.accelerator == "nvidia-tesla-t4"), name
        seen.add(name)
    assert seen == set(EXPECTED)
