"""docker-compose.yml agrees with the service catalogue: the same eight services, ports, images, build files,
health checks, resources, and service-to-service URLs that point at the right ports."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from dojangkok import catalogue
from dojangkok.catalogue import Service

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
SERVICES = pytest.mark.parametrize("service", catalogue.SERVICES, ids=lambda s: s.name)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def entry(compose: dict[str, Any], service: Service) -> dict[str, Any]:
    return compose["services"][service.name]


def published(port: str | int | dict[str, Any]) -> tuple[str, str]:
    """(host port, container port) of a compose port in short ("8080:8080", "127.0.0.1:80:80/tcp") or long syntax."""
    if isinstance(port, dict):
        return str(port.get("published", "")), str(port["target"])
    parts = str(port).split("/")[0].split(":")
    return (parts[-2] if len(parts) > 1 else ""), parts[-1]


def test_the_stack_is_exactly_the_catalogue(compose: dict[str, Any]) -> None:
    assert set(compose["services"]) == {s.name for s in catalogue.SERVICES}


@SERVICES
def test_the_seed_port_is_published_on_the_same_host_port(compose: dict[str, Any], service: Service) -> None:
    ports = [published(p) for p in entry(compose, service).get("ports", [])]

    assert (str(service.port), str(service.port)) in ports


@SERVICES
def test_built_services_build_from_the_catalogue_dockerfile_and_others_use_its_image(
    compose: dict[str, Any], service: Service
) -> None:
    spec = entry(compose, service)
    if service.built:
        build = spec["build"]
        assert build["context"] == service.context
        assert os.path.normpath(os.path.join(build["context"], build["dockerfile"])) == service.dockerfile
    else:
        assert "build" not in spec
        assert spec["image"] == service.base_image


@SERVICES
def test_a_pinned_platform_is_one_the_catalogue_lists(compose: dict[str, Any], service: Service) -> None:
    platform = entry(compose, service).get("platform")
    if platform:
        assert platform in service.platforms
    if service.accelerator:  # CUDA images exist for x86_64 only: say so, or Apple silicon pulls nothing
        assert platform == service.platforms[0]


@SERVICES
def test_every_service_has_a_healthcheck_on_its_own_port_and_path(compose: dict[str, Any], service: Service) -> None:
    check = entry(compose, service).get("healthcheck", {})
    test = check.get("test")

    assert test and test[0] in ("CMD", "CMD-SHELL"), f"{service.name}: a healthcheck with CMD or CMD-SHELL"
    command = " ".join(test[1:])
    assert str(service.port) in command, f"{service.name}: its healthcheck does not name port {service.port}"
    if service.health_path:
        assert re.search(rf"{re.escape(service.health_path)}(?![\w/-])", command), (
            f"{service.name}: its healthcheck does not probe {service.health_path}"
        )


@SERVICES
def test_resource_limits_follow_the_catalogue(compose: dict[str, Any], service: Service) -> None:
    limits = entry(compose, service)["deploy"]["resources"]["limits"]

    assert limits["memory"] == f"{service.memory_mib}M"
    assert float(limits["cpus"]) == service.cpus


def test_vllm_reserves_an_nvidia_gpu_and_is_optional(compose: dict[str, Any]) -> None:
    vllm = compose["services"]["vllm"]
    devices = vllm["deploy"]["resources"]["reservations"]["devices"]

    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices)
    assert vllm.get("profiles") == ["gpu"]


def test_dependencies_wait_for_health_and_never_on_an_optional_service(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, spec in services.items():
        depends = spec.get("depends_on", {})
        assert isinstance(depends, dict), f"{name}: depends_on needs conditions, not a list"
        for dependency, condition in depends.items():
            assert condition == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert "healthcheck" in services[dependency], f"{name} waits on {dependency}, which has no healthcheck"
            assert not services[dependency].get("profiles"), f"{name} depends on {dependency}, which is optional"


def test_the_wiring_the_services_read(compose: dict[str, Any]) -> None:
    port = {s.name: s.port for s in catalogue.SERVICES}
    services = compose["services"]

    assert services["frontend"]["environment"]["BACKEND_URL"] == f"http://backend:{port['backend']}"
    assert services["ai-server"]["environment"]["VLLM_URL"] == f"http://vllm:{port['vllm']}"
    assert services["ai-server"]["environment"]["CHROMA_URL"] == f"http://chromadb:{port['chromadb']}"
    backend = services["backend"]["environment"]
    assert f"mysql:{port['mysql']}/" in backend["SPRING_DATASOURCE_URL"]
    assert f"mongo:{port['mongo']}/" in backend["SPRING_DATA_MONGODB_URI"]
    assert f"redis:{port['redis']}" in backend["SPRING_DATA_REDIS_URL"]


URL_HOST_PORT = re.compile(r"[a-z][a-z0-9+.-]*://([a-z0-9-]+):(\d+)")


def test_every_url_to_another_service_uses_its_catalogue_port(compose: dict[str, Any]) -> None:
    port = {s.name: str(s.port) for s in catalogue.SERVICES}
    for name, spec in compose["services"].items():
        for var, value in (spec.get("environment") or {}).items():
            for host, used in URL_HOST_PORT.findall(str(value)):
                if host in port:
                    assert used == port[host], f"{name}: {var}={value} but {host} listens on {port[host]}"
