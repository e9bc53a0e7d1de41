"""`dagger call sbom` through the real CLI: syft on the engine, from its (stand-in) released image.

An SBOM is useful when it names what a user would look for: the framework each service is built on, from the
language's own package metadata inside the image, and the OS packages of its base.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from dojangkok_local import ROOT
from dojangkok_local.engine.cli import call
from dojangkok_local.engine.cli import dagger as run_dagger

pytestmark = pytest.mark.engine

HOST = "linux/amd64"
# A dependency each service's own manifest declares, and the package URL type it is found under.
KNOWN = {
    "frontend": ("next", "pkg:npm"),
    "backend": ("spring-boot", "pkg:maven"),
    "ai-server": ("fastapi", "pkg:pypi"),
}


def packages(document: dict) -> dict[str, tuple[str, set[str]]]:
    """name -> (version, purl types) of every package of an SPDX document."""
    found: dict[str, tuple[str, set[str]]] = {}
    for package in document["packages"]:
        purls = {ref["referenceLocator"].split("/", 1)[0] for ref in package.get("externalRefs", [])
                 if ref["referenceType"] == "purl"}
        found[package["name"]] = (package.get("versionInfo", ""), found.get(package["name"], ("", set()))[1] | purls)
    return found


def pinned(requirements: Path, name: str) -> str:
    for line in requirements.read_text().splitlines():
        if line.startswith(f"{name}=="):
            return line.split("==", 1)[1].split()[0]
    raise AssertionError(f"{name} is not pinned in {requirements}")


def test_sboms_list_each_services_framework_and_its_os_packages(stand_ins, tmp_path):
    out = tmp_path / "sbom"
    call("sbom", "--service", ",".join(KNOWN), "--platform", HOST, "export", "--path", str(out))
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{s}-linux-amd64.spdx.json" for s in KNOWN)
    for service, (dependency, purl_type) in KNOWN.items():
        document = json.loads((out / f"{service}-linux-amd64.spdx.json").read_text())
        assert document["spdxVersion"] == "SPDX-2.3"
        assert document["name"] == service
        found = packages(document)
        assert dependency in found, f"{service}: {dependency} missing from its SBOM"
        assert purl_type in found[dependency][1], (service, found[dependency])
        assert any("pkg:deb" in types for _, types in found.values()), f"{service}: no OS package of its base"
    fastapi_version, _ = packages(json.loads((out / "ai-server-linux-amd64.spdx.json").read_text()))["fastapi"]
    assert fastapi_version == pinned(ROOT / "services" / "ai-server" / "requirements.txt", "fastapi")


def test_sbom_of_an_unknown_service_is_refused_before_any_build(engine_env):
    result = run_dagger("call", "sbom", "--service", "payments", "entries", check=False)
    assert result.returncode != 0
    assert "payments" in result.stderr and "ai-server" in result.stderr
