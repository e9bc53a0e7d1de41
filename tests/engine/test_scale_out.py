"""A release built in shares, one per platform (a native runner each), merged into one signed index: through the
real CLI, on the local registry.

Each share is pushed by digest under no tag (`publish --by-digest`), then `merge` checks every image and makes the
release: one index per service under its unique tag, signed, then `latest`; `deploy --image` rolls such shares out
without building. Two engines here, as two runners would have: the tier's own builds the arm64 share (under QEMU, the
image it warmed), a second one, reached over mutual TLS as a remote engine is, the amd64 share.
"""

from __future__ import annotations

import json
import re
import socket
import ssl

import pytest
from dojangkok import catalogue
from dojangkok_local import emulator_polls, releases, signing
from dojangkok_local.engine import second
from dojangkok_local.engine.cli import Emulated, call, dagger, overrides
from dojangkok_local.engine.warm import ARM64_PROOF
from dojangkok_local.throwaway_ca import CertificateAuthority

# One worker runs the tests of the second engine: it keeps one state directory.
pytestmark = [pytest.mark.engine, pytest.mark.xdist_group("second-engine")]

SERVICE = catalogue.service(ARM64_PROOF)  # the tier builds it for both platforms
REPOSITORY = f"dojangkok/{SERVICE.name}"
COMMIT = "7c" * 20


@pytest.fixture(scope="module")
def second_engine(engine_env, tmp_path_factory):
    with second.running(tmp_path_factory.mktemp("second-engine")) as engine:
        yield engine


def share(registry: str, platforms: list[str], commit: str, signed: signing.KeyPair | None,
          engine: second.SecondEngine | None = None) -> dict[str, dict]:
    """`publish --by-digest` of the service for these platforms (on `engine`, else the first): platform -> its row."""
    out = call(*Emulated(registry, signing=signed).arguments(), "publish", "--by-digest", "--env", "dev",
               "--branch", "main", "--commit", commit, "--service", SERVICE.name, "--platform", ",".join(platforms),
               "--format", "json", env=engine.env() if engine else None)
    return {row["platform"]: row for row in json.loads(out)}


def merge(registry: str, images: list[str], commit: str, signed: signing.KeyPair | None, check: bool = True):
    return dagger("call", *Emulated(registry, signing=signed).arguments(), "merge", "--env", "dev", "--branch",
                  "main", "--commit", commit, "--image", ",".join(images), "--format", "json", check=check)


def test_the_cli_reaches_a_second_engine_over_tcp_and_mutual_tls_which_refuses_strangers(second_engine, tmp_path):
    for env in (second_engine.env(plain=True), second_engine.env()):
        planned = json.loads(dagger("call", "plan", "--env", "dev", "--branch", "main", "--format", "json",
                                    env=env).stdout)
        assert SERVICE.name in {row["service"] for row in planned["services"]}, planned
    # The TLS port lets in only a client that trusts the engine's CA and shows a certificate that CA signed. (The
    # CLI retries a refused handshake until its own timeout: checked here at the handshake itself.)
    stranger = CertificateAuthority("another", tmp_path)
    client = second_engine.certificate, second_engine.key
    assert tls_answer(second_engine, second_engine.ca, client) == "answered"
    # A refused client certificate: the terminator's alert, or the session closed before the alert leaves.
    closed = "|EOF occurred in violation of protocol|closed"
    refusals = {
        "certificate verify failed": (stranger.certificate, client),  # the engine is not who this client trusts
        "certificate required" + closed: (second_engine.ca, None),  # no client certificate
        "unknown ca" + closed: (second_engine.ca, stranger.issue("stranger", [], client=True)),  # another CA's
    }
    for reason, (trusted, certificate) in refusals.items():
        assert re.search(reason, tls_answer(second_engine, trusted, certificate)), reason


def tls_answer(engine: second.SecondEngine, trusted, certificate) -> str:
    """What the engine's TLS port does with a client trusting `trusted` and showing `certificate` (or none) that
    starts HTTP/2: "answered" (the engine's first frame came back), "closed", or the TLS error."""
    context = ssl.create_default_context(cafile=trusted)
    if certificate:
        context.load_cert_chain(*certificate)
    try:
        with socket.create_connection((second.HOST, engine.tls_port), timeout=30) as raw, \
                context.wrap_socket(raw, server_hostname=second.HOST) as tls:
            tls.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            return "answered" if tls.recv(1) else "closed"  # TLS 1.3: a refused certificate shows at the read
    except ssl.SSLError as error:
        return str(error)


def test_shares_pushed_by_digest_from_two_engines_merge_into_one_signed_index_that_deploy_rolls_out(
        images_built, second_engine, registry, registry_api, key_pair, clouds, tmp_path):
    # Two runners, one platform each: each image lands by digest, signed with its SBOM and provenance, untagged.
    shares = {**share(registry, ["linux/arm64"], COMMIT, key_pair),
              **share(registry, ["linux/amd64"], COMMIT, key_pair, second_engine)}
    assert sorted(shares) == sorted(SERVICE.platforms)
    for platform, row in shares.items():
        digest, platforms = registry_api.platforms(REPOSITORY, row["digest"])
        assert (digest, platforms) == (row["digest"], {platform})
        assert row["image"] == f"{SERVICE.name}/{platform}@{digest}"
        [provenance] = signing.statements(key_pair, "provenance", f"{registry}/{REPOSITORY}@{digest}")
        assert provenance["predicate"]["buildDefinition"]["externalParameters"]["platform"] == platform
    assert not {t for t in registry_api.tags(REPOSITORY)
                if registry_api.manifest(REPOSITORY, t)[0] in {r["digest"] for r in shares.values()}}
    tags_before, latest_before = sorted(registry_api.tags(REPOSITORY)), releases.latest(registry_api, SERVICE.name)
    arm, amd = shares["linux/arm64"]["digest"], shares["linux/amd64"]["digest"]

    # Refused before anything is written, naming the service, the platform and the check: shares nobody holding
    # the declared key signed (every check of the registry's answers: tests/emulator/test_platform_images.py).
    stranger = signing.key_pair(tmp_path / "stranger")
    refused = merge(registry, [shares[p]["image"] for p in SERVICE.platforms], COMMIT, stranger, check=False)
    assert refused.returncode != 0
    assert f"{SERVICE.name} {SERVICE.platforms[0]}" in refused.stderr and "signature check failed" in refused.stderr
    assert sorted(registry_api.tags(REPOSITORY)) == tags_before
    assert releases.latest(registry_api, SERVICE.name) == latest_before

    # The merge: one index of both platforms' very images under the unique tag and latest, signed.
    [merged] = json.loads(merge(registry, [shares[p]["image"] for p in SERVICE.platforms], COMMIT, key_pair).stdout)
    tag = merged["reference"].rsplit(":", 1)[1]
    assert tag.startswith("dev-main-") and tag not in tags_before
    digest, index = registry_api.manifest(REPOSITORY, tag)
    assert digest == merged["digest"] == releases.latest(registry_api, SERVICE.name)
    assert {(m["platform"]["os"] + "/" + m["platform"]["architecture"], m["digest"]) for m in index["manifests"]} == {
        ("linux/arm64", arm), ("linux/amd64", amd)}
    verified = signing.host_cosign(key_pair, "verify", f"{registry}/{REPOSITORY}@{digest}")
    assert verified.returncode == 0, verified.stderr

    # deploy takes the shares where it would build: merged again (the same index), verified, rolled out.
    aws, gcp = clouds
    deployed = dagger("call", *overrides(emulator_polls("dev")),
                      *Emulated(registry, aws.endpoint, gcp.endpoint, key_pair).arguments(), "deploy", "--env", "dev",
                      "--branch", "main", "--commit", COMMIT, "--image", ",".join(shares[p]["image"]
                                                                                for p in SERVICE.platforms),
                      "--format", "json")
    assert "building" not in deployed.stderr
    [result] = json.loads(deployed.stdout)
    assert (result["service"], result["outcome"]) == (SERVICE.name, "succeeded"), result
    assert result["image"] == f"{registry}/{REPOSITORY}@{digest}"
    assert releases.latest(registry_api, SERVICE.name) == digest
