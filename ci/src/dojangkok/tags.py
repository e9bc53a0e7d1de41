"""Image tag rules (seed §5.1-5.2): one unique tag per release, checked before anything is built or pushed.

- dev: ``dev-{branch}-{YYYYMMDDHHMM}`` in UTC, e.g. ``feat/login`` at 2026-01-12 14:00 UTC →
  ``dev-feat-login-202601121400``. The branch is lower-cased, every run of characters outside ``[a-z0-9._-]``
  becomes one ``-``, ``.``/``_``/``-`` are trimmed from both ends, and it is cut so the whole tag fits.
- prd: ``prod-{version}-{commit7}``, e.g. ``v1.0.2`` + ``a1b2c3d4e5…`` → ``prod-v1.0.2-a1b2c3d``. The version is
  ``v`` + a semantic version (a pre-release such as ``-rc.1`` is fine; ``+build`` metadata is not, because ``+``
  cannot appear in an OCI tag).

Every tag produced matches the OCI distribution rule ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``.
Plain Python, importable without a Dagger engine.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MAX_TAG_LENGTH = 128
OCI_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")

DEV_PREFIX = "dev-"
PROD_PREFIX = "prod-"
TIMESTAMP_LENGTH = len("YYYYMMDDHHMM")
SHORT_SHA_LENGTH = 7
LATEST = "latest"

# semver.org 2.0.0, with the leading "v" our release tags carry; build metadata is checked separately.
_NUMBER = r"(?:0|[1-9][0-9]*)"
_PRERELEASE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_VERSION = re.compile(rf"v{_NUMBER}\.{_NUMBER}\.{_NUMBER}(?:-{_PRERELEASE_ID}(?:\.{_PRERELEASE_ID})*)?")
_OUTSIDE_BRANCH_CHARS = re.compile(r"[^a-z0-9._-]+")
_EDGES = "._-"
_HEX = re.compile(r"[0-9a-fA-F]+")
_LONGEST_SHA = 64  # SHA-256 object names; SHA-1 ones are 40


class TagError(ValueError):
    """An input that cannot become an image tag; the message says what was wrong and what is expected."""


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` is a valid OCI image tag (at most 128 characters of ``[A-Za-z0-9._-]``, not starting
    with ``.`` or ``-``)."""
    return isinstance(tag, str) and OCI_TAG.fullmatch(tag) is not None


def branch_slug(branch: str, max_length: int = MAX_TAG_LENGTH) -> str:
    """The branch as it appears in a dev tag: lower-case, runs of other characters as one ``-``, edges trimmed,
    at most ``max_length`` characters and never ending in ``.``, ``_`` or ``-``."""
    if not isinstance(branch, str):
        raise TagError(f"branch must be a string, got {type(branch).__name__}; pass the git branch, e.g. feat/login")
    slug = _OUTSIDE_BRANCH_CHARS.sub("-", branch.lower()).strip(_EDGES)
    if not slug:
        if not branch.strip():
            raise TagError("branch is empty: a dev tag needs the git branch name, e.g. --branch feat/login")
        raise TagError(
            f"branch {branch!r} has no letters or digits to put in a tag: expected a git branch name such as feat/login"
        )
    # The slug starts with [a-z0-9], so the cut leaves at least one character.
    return slug[:max_length].rstrip(_EDGES)


def dev_tag(branch: str, when: datetime) -> str:
    """``dev-{branch}-{YYYYMMDDHHMM}``: the unique tag of a dev build of ``branch`` made at ``when`` (UTC).

    ``when`` must carry a time zone; it is converted to UTC.
    """
    if not isinstance(when, datetime):
        raise TagError(f"when must be a datetime, got {type(when).__name__}: pass e.g. datetime.now(UTC)")
    if when.tzinfo is None or when.utcoffset() is None:
        raise TagError(
            f"when={when.isoformat()} has no time zone, so its UTC minute is unknown: "
            "pass an aware datetime, e.g. datetime.now(UTC)"
        )
    moment = when.astimezone(UTC)
    stamp = f"{moment.year:04d}{moment.month:02d}{moment.day:02d}{moment.hour:02d}{moment.minute:02d}"
    room = MAX_TAG_LENGTH - len(DEV_PREFIX) - len("-") - TIMESTAMP_LENGTH
    tag = f"{DEV_PREFIX}{branch_slug(branch, room)}-{stamp}"
    assert is_valid_tag(tag), tag
    return tag


def check_version(version: str) -> str:
    """The release version, unchanged, if it is ``v`` + a semantic version without build metadata."""
    if not isinstance(version, str) or not version:
        raise TagError("version is empty: a prd tag needs the release version, e.g. --version v1.0.2")
    if "+" in version:
        raise TagError(
            f"version {version!r} carries build metadata ({version[version.index('+') :]!r}); '+' cannot appear "
            f"in an OCI image tag: drop it, e.g. {version[: version.index('+')]!r}"
        )
    if not _VERSION.fullmatch(version):
        hint = ""
        if _VERSION.fullmatch(f"v{version}"):
            hint = f" (did you mean 'v{version}'?)"
        elif _VERSION.fullmatch(f"v{version[1:]}") and version[:1] == "V":
            hint = f" (use a lower-case 'v': 'v{version[1:]}')"
        raise TagError(
            f"version {version!r} is not 'v' + a semantic version{hint}: expected vMAJOR.MINOR.PATCH with an "
            "optional -PRERELEASE, e.g. v1.0.2 or v1.2.3-rc.1"
        )
    return version


def short_commit(commit: str) -> str:
    """The 7-character lower-case short SHA of ``commit`` (which must be at least 7 hex characters)."""
    if not isinstance(commit, str) or not commit:
        raise TagError("commit is empty: a prd tag needs the git commit SHA, e.g. --commit $(git rev-parse HEAD)")
    if not _HEX.fullmatch(commit):
        raise TagError(
            f"commit {commit!r} is not hexadecimal: expected a git SHA (at least {SHORT_SHA_LENGTH} of 0-9a-f), "
            "e.g. --commit $(git rev-parse HEAD)"
        )
    if len(commit) < SHORT_SHA_LENGTH:
        raise TagError(
            f"commit {commit!r} is too short ({len(commit)} characters): give at least {SHORT_SHA_LENGTH} hex "
            "characters of the SHA, e.g. --commit $(git rev-parse HEAD)"
        )
    if len(commit) > _LONGEST_SHA:
        raise TagError(
            f"commit {commit[:12]!r}… is {len(commit)} characters, longer than any git SHA ({_LONGEST_SHA}): "
            "pass the output of git rev-parse HEAD"
        )
    return commit[:SHORT_SHA_LENGTH].lower()


def prod_tag(version: str, commit: str) -> str:
    """``prod-{version}-{commit7}``: the unique tag of the release ``version`` built from ``commit``."""
    tag = f"{PROD_PREFIX}{check_version(version)}-{short_commit(commit)}"
    if len(tag) > MAX_TAG_LENGTH:
        room = MAX_TAG_LENGTH - len(PROD_PREFIX) - len("-") - SHORT_SHA_LENGTH
        raise TagError(
            f"version {version[:24]!r}… is {len(version)} characters; a prd tag has room for {room}: "
            "shorten the pre-release part"
        )
    assert is_valid_tag(tag), tag
    return tag
