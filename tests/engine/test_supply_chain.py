"""Supply chain through the real CLI and engine, on the local registry: SBOMs, signing and verifying.

An SBOM is useful when it names what a user would look for: the framework each service is built on, from the
language's own package metadata inside the image, and the OS packages of its base. Publish signs (cosign's stand-in
image on the engine) and cosign verifies from outside, as an auditor would; a roll-out refuses an image it cannot
trace, naming the check that failed.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import dagger
import pytest
from dagger import dag
from dojangkok import oci, provenance, supply_chain
from dojangkok_local import ROOT, emulator_polls, signing
from dojangkok_local.aws.infra import provision
from dojangkok_local.engine.cli import Emulated, call, overrides
from dojangkok_local.engine.cli import dagger as run_dagger
from dojangkok_local.gcp.seed import seed_environment

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


def test_sboms_list_each_services_framework_and_its_os_packages(images_built, tmp_path):
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


COMMIT = "5a" * 20


def test_publish_signs_every_service_and_cosign_verifies_each_digest_from_outside(images_built, key_pair, registry,
                                                                                   registry_api):
    out = call(*Emulated(registry, signing=key_pair).arguments(), "publish", "--env", "dev", "--branch", "signed",
               "--commit", COMMIT, "--platform", HOST, "--format", "json")
    published = {row["service"]: row for row in json.loads(out)}
    assert set(published) == {"frontend", "backend", "ai-server", "vllm"}
    for service, row in published.items():
        reference = f"{row['reference'].rsplit(':', 1)[0]}@{row['digest']}"
        assert row["attestations"], f"{service}: the summary lists no attestation"
        assert signing.host_cosign(key_pair, "verify", reference).returncode == 0, service
        [slsa] = signing.statements(key_pair, "provenance", reference)
        predicate = provenance.check(slsa, digest=row["digest"], commit=COMMIT)
        parameters = predicate["buildDefinition"]["externalParameters"]
        assert (parameters["service"], parameters["platform"]) == (service, HOST)
        bases = [d for d in predicate["buildDefinition"]["resolvedDependencies"] if d.get("name")]
        assert bases and all(len(d["digest"]["sha256"]) == 64 for d in bases), bases
        [spdx] = signing.statements(key_pair, "sbom", reference)
        assert spdx["predicate"]["spdxVersion"] == "SPDX-2.3"
        if service in KNOWN:
            assert KNOWN[service][0] in packages(spdx["predicate"]), f"{service}: SBOM misses {KNOWN[service][0]}"
        # the latest tag moved only after signing, onto the signed digest
        assert registry_api.manifest(f"dojangkok/{service}", "latest")[0] == row["digest"]


def test_a_multi_platform_index_is_signed_through_and_every_platform_image_attested(images_built, key_pair, registry,
                                                                                    registry_api):
    # ai-server is the image CI builds for arm64 too (the smallest): the index path of signing, once. A commit of
    # its own labels fresh digests: exactly one SBOM and one provenance each, not those of an earlier publish.
    commit = secrets.token_hex(20)
    out = call(*Emulated(registry, signing=key_pair).arguments(), "publish", "--env", "dev", "--branch", "signed",
               "--commit", commit, "--service", "ai-server", "--platform", HOST, "--platform", "linux/arm64",
               "--format", "json")
    [row] = json.loads(out)
    repository = row["reference"].rsplit(":", 1)[0]
    assert signing.host_cosign(key_pair, "verify", f"{repository}@{row['digest']}").returncode == 0
    _, index = registry_api.manifest("dojangkok/ai-server", row["digest"])
    images = {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"] for m in index["manifests"]
              if m["platform"]["os"] != "unknown"}
    assert set(images) == {HOST, "linux/arm64"}
    for platform, digest in images.items():
        reference = f"{repository}@{digest}"
        assert signing.host_cosign(key_pair, "verify", reference).returncode == 0, platform  # signed recursively
        [slsa] = signing.statements(key_pair, "provenance", reference)
        parameters = provenance.check(slsa, digest=digest, commit=commit)["buildDefinition"]["externalParameters"]
        assert parameters["platform"] == platform
        [spdx] = signing.statements(key_pair, "sbom", reference)
        assert "fastapi" in packages(spdx["predicate"]), platform


@pytest.fixture
def endpoint(registry, dagger_session) -> supply_chain.Registry:
    """The local registry as the module's cosign reaches it (a bound service), driven from this process."""
    port = int(registry.rsplit(":", 1)[1])
    bound = dag.host().service([dagger.PortForward(backend=port, frontend=port)], host="localhost")
    return supply_chain.Registry(f"registry:{port}", oci.Registry(f"http://{registry}"), bound, insecure=True)


async def push(registry: str, name: str) -> tuple[str, str]:
    """A tiny image of its own (repository, digest)."""
    repository = f"{registry}/dojangkok/signing-{name}"
    image = dag.container().with_new_file("/release", name).with_label("test", name)
    ref = await dag.container().publish(f"{repository}:{name}", platform_variants=[image])
    return repository, ref.rpartition("@")[2]


def predicate(commit: str) -> dict:
    return {"buildDefinition": {"externalParameters": {"source": {"commit": commit}}}}


def sbom_file() -> dagger.File:
    return dag.file("sbom.json", json.dumps({"spdxVersion": "SPDX-2.3", "name": "t", "packages": []}))


def key_of(pair: signing.KeyPair) -> supply_chain.Signing:
    return supply_chain.Signing(public_key=dag.host().file(str(pair.public_key)),
                                key=dag.set_secret("cosign-key", pair.private_key.read_text()),
                                password=dag.set_secret("cosign-password", signing.PASSWORD))


async def refused(pair, endpoint, repository, digest, commit=COMMIT) -> supply_chain.VerifyRefused:
    with pytest.raises(supply_chain.VerifyRefused) as caught:
        await supply_chain.verify(key_of(pair), endpoint, repository, digest, commit)
    return caught.value


async def test_a_fully_signed_image_passes_and_each_missing_piece_is_refused_by_name(
        images_built, key_pair, endpoint, registry, tmp_path_factory):
    keys = key_of(key_pair)
    repository, digest = await push(registry, "signed")
    referrers = await supply_chain.sign(keys, endpoint, repository, digest, {HOST: (sbom_file(), predicate(COMMIT))})
    assert len(referrers) >= 2  # the SBOM and the provenance, at least
    await supply_chain.verify(keys, endpoint, repository, digest, COMMIT)  # passes

    wrong_commit = await refused(key_pair, endpoint, repository, digest, commit="6b" * 20)
    assert wrong_commit.check == "provenance" and COMMIT in str(wrong_commit)

    unsigned_repository, unsigned = await push(registry, "unsigned")
    assert (await refused(key_pair, endpoint, unsigned_repository, unsigned)).check == "signature"

    other_key = signing.key_pair(tmp_path_factory.mktemp("other-key"))
    assert (await refused(other_key, endpoint, repository, digest)).check == "signature"

    no_sbom_repository, no_sbom = await push(registry, "no-sbom")
    reference = endpoint.reference(no_sbom_repository, no_sbom)
    await supply_chain.attest(keys, endpoint, reference, "provenance",
                              dag.file("provenance.json", json.dumps(predicate(COMMIT))))
    await supply_chain.sign_image(keys, endpoint, reference)
    missing = await refused(key_pair, endpoint, no_sbom_repository, no_sbom)
    assert missing.check == "sbom" and "nothing was rolled out" in str(missing)


async def test_a_foreign_image_under_the_release_tag_is_refused_before_any_cloud_call(
        images_built, key_pair, clouds, registry, registry_api, dagger_session):
    aws, gcp = clouds
    provision(aws.endpoint, env="prd")
    seed_environment(gcp.endpoint, "prd")
    gcp.settle()
    aws.reset_calls()
    gcp.reset_calls()
    # Someone with push rights, but not the key, puts an image of their own under the release's tag.
    tag = f"prod-v1.9.0-{COMMIT[:7]}"
    foreign = dag.container().with_new_file("/app/main.py", "print('not ours')")
    ref = await dag.container().publish(f"{registry}/dojangkok/ai-server:{tag}", platform_variants=[foreign])
    digest = ref.rpartition("@")[2]

    local = Emulated(registry, aws.endpoint, gcp.endpoint, signing=key_pair).arguments()
    result = run_dagger("call", *overrides(emulator_polls("prd")), *local, "deploy", "--env",
                        "prd", "--version", "v1.9.0", "--commit", COMMIT, "--service", "ai-server", "--platform",
                        HOST, check=False)
    assert result.returncode != 0
    assert f"dojangkok/ai-server@{digest}: the signature check failed" in result.stderr, result.stderr[-3000:]
    assert aws.calls() == [] and gcp.calls() == []  # no lock taken, nothing built, pushed or rolled out
    assert registry_api.manifest("dojangkok/ai-server", tag)[0] == digest


def test_prd_without_a_key_pair_is_refused_before_any_cloud_call(engine_env, clouds, registry):
    aws, gcp = clouds
    result = run_dagger("call", *Emulated(registry, aws.endpoint, gcp.endpoint).arguments(), "deploy", "--env",
                        "prd", "--version", "v1.9.1", "--commit", COMMIT, check=False)
    assert result.returncode != 0
    assert "prd rolls out only signed, verified images: declare with-signing" in result.stderr
    assert aws.calls() == [] and gcp.calls() == []
