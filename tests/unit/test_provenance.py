"""Provenance: what a statement records, and every way a deploy's check refuses one that does not vouch for it."""

from datetime import UTC, datetime

import pytest
from dojangkok.provenance import Base, BuildFacts, ProvenanceError, check, statement

pytestmark = pytest.mark.unit

COMMIT = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
DIGEST = "sha256:" + "1" * 64
PYTHON = Base("PYTHON_IMAGE", "python:3.11-slim", "sha256:" + "2" * 64)


def facts(**changes) -> BuildFacts:
    values = dict(
        service="ai-server", platform="linux/arm64", repository="https://github.com/dojangkok/dojangkok",
        commit=COMMIT, dockerfile="dockerfiles/ai-server.Dockerfile", dockerfile_sha256="3" * 64,
        builder_id="https://github.com/dojangkok/dojangkok/ci@v1.4.0", builder_version="v1.4.0",
        started=datetime(2026, 12, 2, 10, 0, tzinfo=UTC), finished=datetime(2026, 12, 2, 10, 3, tzinfo=UTC),
        bases=(PYTHON,),
    )
    return BuildFacts(**{**values, **changes})


def test_a_statement_records_commit_dockerfile_bases_and_platform():
    document = statement("registry/dojangkok/ai-server", DIGEST, facts())
    definition = check(document, digest=DIGEST, commit=COMMIT[:7])["buildDefinition"]
    assert definition["externalParameters"]["platform"] == "linux/arm64"
    assert definition["externalParameters"]["baseOverrides"] == {}
    digests = {d["uri"]: d["digest"] for d in definition["resolvedDependencies"]}
    assert digests[f"git+https://github.com/dojangkok/dojangkok@{COMMIT}"] == {"gitCommit": COMMIT}
    assert digests["docker-image://python:3.11-slim"] == {"sha256": "2" * 64}
    assert any(uri.endswith("#dockerfiles/ai-server.Dockerfile") for uri in digests)


def test_an_overridden_base_is_recorded_as_an_override():
    mirror = Base("PYTHON_IMAGE", "mirror.example/python:3.11-slim", PYTHON.digest, overridden=True)
    document = statement("r/ai-server", DIGEST, facts(bases=(mirror,)))
    overrides = document["predicate"]["buildDefinition"]["externalParameters"]["baseOverrides"]
    assert overrides == {"PYTHON_IMAGE": "mirror.example/python:3.11-slim"}


@pytest.mark.parametrize(
    ("digest", "commit", "message"),
    [
        ("sha256:" + "9" * 64, COMMIT, "not sha256:9999"),  # a foreign image's digest
        (DIGEST, "b" * 40, f"names commit {COMMIT}, the deploy expects bbbb"),  # built from another commit
        (DIGEST, "a1b2", "not 7 to 40 hex"),
    ],
)
def test_check_refuses_and_says_which_check_failed(digest, commit, message):
    with pytest.raises(ProvenanceError, match=message):
        check(statement("r/ai-server", DIGEST, facts()), digest=digest, commit=commit)


def test_check_refuses_another_kind_of_attestation():
    sbom = {**statement("r/ai-server", DIGEST, facts()), "predicateType": "https://spdx.dev/Document"}
    with pytest.raises(ProvenanceError, match="not SLSA v1 provenance"):
        check(sbom, digest=DIGEST, commit=COMMIT)


def test_provenance_needs_the_full_commit():
    with pytest.raises(ProvenanceError, match="full 40-hex commit"):
        facts(commit=COMMIT[:7])


def test_check_refuses_provenance_of_another_platforms_build():
    document = statement("r/ai-server", DIGEST, facts(platform="linux/amd64"))
    assert check(document, digest=DIGEST, commit=COMMIT, platform="linux/amd64")
    with pytest.raises(ProvenanceError, match="of a linux/amd64 build, the image is linux/arm64"):
        check(document, digest=DIGEST, commit=COMMIT, platform="linux/arm64")
