"""Build provenance: what an image was built from, as a SLSA v1 predicate, and the checks a deploy makes on it.

One predicate per service and platform: the builder (this module and its version), the source repository and full
commit, the Dockerfile by digest, each base image resolved to its digest, the base overrides in force and the
platform. cosign wraps it in an in-toto statement whose subject is the image's digest and signs it; before a
roll-out, `check` reads the statement back and refuses one that names another image or another commit.

Plain Python, importable without a Dagger engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
# What is checked of every image before a roll-out, in this order; the first that fails refuses the roll-out.
CHECKS = {
    "signature": "signed with the declared key or keyless identity (an image pushed under the tag by others is not)",
    "provenance": "signed SLSA v1 provenance of this very digest, naming the commit of the release",
    "sbom": "a signed SPDX SBOM of every platform image",
}
SIGNED_ENVIRONMENTS = ("prd",)  # roll out nothing unverified; dev verifies whenever with-signing is declared
STATEMENT_TYPES = ("https://in-toto.io/Statement/v1", "https://in-toto.io/Statement/v0.1")  # cosign writes v0.1
BUILD_TYPE = "https://dojangkok.dev/dagger/dockerfile-build/v1"
FULL_COMMIT = re.compile(r"[0-9a-f]{40}")
_SHORT_COMMIT = re.compile(r"[0-9a-f]{7,40}")


class ProvenanceError(ValueError):
    """A provenance statement that does not vouch for the image a deploy is about to roll out; says which check."""


@dataclass(frozen=True)
class Base:
    """A base image a Dockerfile stage starts from, as the build resolved it."""

    argument: str  # the Dockerfile ARG, e.g. PYTHON_IMAGE
    reference: str  # what was pulled: the production default or its override
    digest: str  # sha256:… of what the engine resolved for the platform
    overridden: bool = False


@dataclass(frozen=True)
class BuildFacts:
    """Everything the predicate records about one service's build for one platform."""

    service: str
    platform: str
    repository: str  # source repository URL, e.g. https://github.com/dojangkok/dojangkok
    commit: str  # full 40-hex commit
    dockerfile: str  # path in the repository
    dockerfile_sha256: str
    builder_id: str  # URI of this module at its commit
    builder_version: str  # the Dagger engine's version it ran on
    started: datetime
    finished: datetime
    bases: tuple[Base, ...] = field(default_factory=tuple)

    def __post_init__(self):
        if not FULL_COMMIT.fullmatch(self.commit):
            raise ProvenanceError(f"provenance needs the full 40-hex commit, got {self.commit!r}")


def predicate(facts: BuildFacts) -> dict:
    """The SLSA v1 provenance predicate of one build (buildDefinition + runDetails)."""
    source = f"git+{facts.repository}@{facts.commit}"
    return {
        "buildDefinition": {
            "buildType": BUILD_TYPE,
            "externalParameters": {
                "source": {"repository": facts.repository, "commit": facts.commit},
                "service": facts.service,
                "platform": facts.platform,
                "dockerfile": facts.dockerfile,
                "baseOverrides": {b.argument: b.reference for b in facts.bases if b.overridden},
            },
            "resolvedDependencies": [
                {"uri": source, "digest": {"gitCommit": facts.commit}},
                {"uri": f"{source}#{facts.dockerfile}", "digest": {"sha256": facts.dockerfile_sha256}},
                *({"uri": f"docker-image://{b.reference}", "name": b.argument,
                   "digest": {"sha256": b.digest.removeprefix("sha256:")}} for b in facts.bases),
            ],
        },
        "runDetails": {
            "builder": {"id": facts.builder_id, "version": {"dagger": facts.builder_version}},
            "metadata": {"startedOn": _timestamp(facts.started), "finishedOn": _timestamp(facts.finished)},
        },
    }


def statement(subject_name: str, subject_digest: str, facts: BuildFacts) -> dict:
    """The in-toto statement binding the predicate to one image (what `cosign attest --statement` signs)."""
    return {
        "_type": STATEMENT_TYPES[0],
        "subject": [{"name": subject_name, "digest": {"sha256": subject_digest.removeprefix("sha256:")}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": predicate(facts),
    }


def check(document: dict, *, digest: str, commit: str, platform: str = "") -> dict:
    """The predicate of `document` if it is SLSA v1 provenance of the image `digest` built from `commit` (full or
    at least 7 hex characters) for `platform` (when given); ProvenanceError naming the failed check otherwise."""
    if document.get("_type") not in STATEMENT_TYPES or document.get("predicateType") != PREDICATE_TYPE:
        raise ProvenanceError(
            f"not SLSA v1 provenance: statement {document.get('_type')!r}, predicate {document.get('predicateType')!r}"
        )
    wanted = digest.removeprefix("sha256:")
    subjects = [s.get("digest", {}).get("sha256", "") for s in document.get("subject", [])]
    if wanted not in subjects:
        raise ProvenanceError(f"the provenance is about {', '.join(subjects) or 'no image'}, not sha256:{wanted}")
    expected = commit.lower()
    if not _SHORT_COMMIT.fullmatch(expected):
        raise ProvenanceError(f"expected commit {commit!r} is not 7 to 40 hex characters")
    parameters = document.get("predicate", {}).get("buildDefinition", {}).get("externalParameters", {})
    found = parameters.get("source", {}).get("commit", "")
    if not found.startswith(expected):
        raise ProvenanceError(f"the provenance names commit {found or 'none'}, the deploy expects {commit}")
    if platform and parameters.get("platform") != platform:
        raise ProvenanceError(f"the provenance is of a {parameters.get('platform') or 'platform-less'} build, "
                              f"the image is {platform}")
    return document["predicate"]


def _timestamp(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")
