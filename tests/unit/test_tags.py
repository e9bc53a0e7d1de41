"""Tag rules (DESIGN.md "Tags", seed §5.2): formats, cuts, and a clear refusal for every bad input."""

import random
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from dojangkok.tags import MAX_TAG_LENGTH, TagError, branch_slug, dev_tag, is_valid_tag, prod_tag

pytestmark = pytest.mark.unit

OCI = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
NOON = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)
SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


def test_seed_examples():
    assert dev_tag("feat/login", NOON) == "dev-feat-login-202601121400"
    assert prod_tag("v1.0.2", SHA) == "prod-v1.0.2-a1b2c3d"


@pytest.mark.parametrize(
    ("branch", "slug"),
    [
        ("main", "main"),
        ("Feat/Login", "feat-login"),  # lower-cased
        ("feat//login", "feat-login"),  # a run of outside characters is one '-'
        ("feat/ 로그인 /page", "feat-page"),  # non-ASCII is outside [a-z0-9._-]
        ("fix/issue#42 (urgent)", "fix-issue-42-urgent"),
        ("release/1.2.x", "release-1.2.x"),  # '.' is kept inside
        ("snake_case-name", "snake_case-name"),  # '_' and '-' are kept inside
        ("feat-/x", "feat--x"),  # an existing '-' stays; only the run of '/' becomes one '-'
        ("/feat/", "feat"),  # edges trimmed
        ("-._feat._-", "feat"),  # '.', '_' and '-' trimmed from both ends too
        ("@@@a@@@", "a"),
        ("dependabot/npm_and_yarn/next-14.2.3", "dependabot-npm_and_yarn-next-14.2.3"),
    ],
)
def test_branch_is_normalised(branch, slug):
    assert branch_slug(branch) == slug
    assert dev_tag(branch, NOON) == f"dev-{slug}-202601121400"


@pytest.mark.parametrize(
    ("when", "stamp"),
    [
        (datetime(2026, 1, 12, 23, 30, tzinfo=timezone(timedelta(hours=9))), "202601121430"),  # KST → UTC
        (datetime(2026, 1, 1, 0, 59, 59, 999999, tzinfo=UTC), "202601010059"),  # seconds dropped, not rounded
        (datetime(2025, 12, 31, 20, 5, tzinfo=timezone(timedelta(hours=-5))), "202601010105"),  # crosses a year
        (datetime(999, 3, 4, 5, 6, tzinfo=UTC), "099903040506"),  # always 12 digits
    ],
)
def test_dev_timestamp_is_utc_minutes(when, stamp):
    assert dev_tag("main", when) == f"dev-main-{stamp}"


def test_long_branch_is_cut_to_fit():
    tag = dev_tag("feature/" + "x" * 300, NOON)
    assert len(tag) == MAX_TAG_LENGTH
    assert tag.startswith("dev-feature-xxx") and tag.endswith("-202601121400")
    assert is_valid_tag(tag)


@pytest.mark.parametrize("edge", ["-", ".", "_", "/", "-/-"])
def test_cut_never_leaves_a_trailing_separator(edge):
    # Place a separator exactly where the cut falls: the slug must not end with it.
    room = MAX_TAG_LENGTH - len("dev-") - len("-202601121400")
    branch = "a" * (room - 1) + edge + "b" * 50
    tag = dev_tag(branch, NOON)
    slug = tag[len("dev-") : -len("-202601121400")]
    assert slug == "a" * (room - 1)
    assert is_valid_tag(tag) and len(tag) <= MAX_TAG_LENGTH


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("", "branch is empty"),
        ("   ", "branch is empty"),
        ("///", "no letters or digits"),
        ("-._-", "no letters or digits"),
        ("로그인", "no letters or digits"),
    ],
)
def test_unusable_branch_is_refused(branch, message):
    with pytest.raises(TagError, match=message) as caught:
        dev_tag(branch, NOON)
    assert "feat/login" in str(caught.value)  # says what is expected


def test_branch_must_be_text():
    with pytest.raises(TagError, match="must be a string"):
        dev_tag(None, NOON)  # type: ignore[arg-type]


def test_naive_datetime_is_refused():
    with pytest.raises(TagError, match=r"no time zone.*datetime.now\(UTC\)"):
        dev_tag("main", datetime(2026, 1, 12, 14, 0))


def test_date_is_not_a_datetime():
    with pytest.raises(TagError, match="must be a datetime"):
        dev_tag("main", date(2026, 1, 12))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("version", "commit", "tag"),
    [
        ("v1.0.2", SHA, "prod-v1.0.2-a1b2c3d"),
        ("v0.0.0", "ABCDEF0", "prod-v0.0.0-abcdef0"),  # commit lower-cased
        ("v1.2.3-rc.1", SHA[:7], "prod-v1.2.3-rc.1-a1b2c3d"),  # pre-release allowed
        ("v10.20.30-alpha.beta-2.0", SHA, "prod-v10.20.30-alpha.beta-2.0-a1b2c3d"),
        ("v1.0.0-0a.1", SHA, "prod-v1.0.0-0a.1-a1b2c3d"),
        ("v2.0.0", "f" * 64, "prod-v2.0.0-fffffff"),  # SHA-256 object names
    ],
)
def test_prod_tag(version, commit, tag):
    assert prod_tag(version, commit) == tag
    assert is_valid_tag(tag)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        ("1.0.2", r"not 'v' \+ a semantic version \(did you mean 'v1.0.2'\?\)"),
        ("v1.0", r"not 'v' \+ a semantic version.*vMAJOR.MINOR.PATCH"),
        ("v1", "vMAJOR.MINOR.PATCH"),
        ("V1.0.2", "lower-case 'v'"),
        ("v01.0.0", "vMAJOR.MINOR.PATCH"),  # no leading zeros
        ("v1.0.0-01", "vMAJOR.MINOR.PATCH"),  # numeric pre-release without leading zeros
        ("v1.0.0-", "vMAJOR.MINOR.PATCH"),
        ("v1.0.0-rc..1", "vMAJOR.MINOR.PATCH"),
        ("v1.0.0_rc1", "vMAJOR.MINOR.PATCH"),
        ("refs/tags/v1.0.2", "vMAJOR.MINOR.PATCH"),
        (" v1.0.2", "vMAJOR.MINOR.PATCH"),
        ("", "version is empty"),
        ("v1.2.3+build.5", r"build metadata \('\+build.5'\).*OCI image tag.*'v1.2.3'"),
        ("v1.2.3-rc.1+sha.abc", r"build metadata.*'v1.2.3-rc.1'"),
    ],
)
def test_bad_version_is_refused(version, message):
    with pytest.raises(TagError, match=message):
        prod_tag(version, SHA)


def test_overlong_version_is_refused():
    with pytest.raises(TagError, match="shorten the pre-release"):
        prod_tag("v1.0.0-" + "a" * 120, SHA)


def test_longest_version_that_fits():
    version = "v1.0.0-" + "a" * (MAX_TAG_LENGTH - len("prod-v1.0.0--a1b2c3d"))
    assert len(prod_tag(version, SHA)) == MAX_TAG_LENGTH


@pytest.mark.parametrize(
    ("commit", "message"),
    [
        ("", "commit is empty"),
        ("abc123", r"too short \(6 characters\).*at least 7"),
        ("a1b2c3g", "not hexadecimal"),
        ("HEAD", "not hexadecimal"),
        ("a1b2c3d ", "not hexadecimal"),
        ("0x1b2c3d4", "not hexadecimal"),
        ("a" * 65, "longer than any git SHA"),
    ],
)
def test_bad_commit_is_refused(commit, message):
    with pytest.raises(TagError, match=message) as caught:
        prod_tag("v1.0.2", commit)
    assert "git rev-parse HEAD" in str(caught.value)  # names the fix


def test_tag_error_is_a_value_error():
    assert issubclass(TagError, ValueError)


@pytest.mark.parametrize(
    ("tag", "valid"),
    [
        ("latest", True),
        ("_x", True),
        ("a" * 128, True),
        ("a" * 129, False),
        ("", False),
        (".hidden", False),
        ("-dash", False),
        ("v1+build", False),
        ("with space", False),
        ("a/b", False),
    ],
)
def test_is_valid_tag(tag, valid):
    assert is_valid_tag(tag) is valid


# ------------------------------------------------------------------------------------------ property checks

ALPHABET = "abcXYZ0189._-/ @#:+~^*?[]\\\t\n" + "로그인ÄéİßΩ" + "\u200b\U0001f600"


def _random_branches(count: int, seed: int):
    rng = random.Random(seed)  # noqa: S311 - test data, not cryptography
    for _ in range(count):
        length = rng.choice([1, 2, 5, 20, 60, 120, 200, 400])
        yield "".join(rng.choice(ALPHABET) for _ in range(length))


@pytest.mark.parametrize("seed", range(5))
def test_every_dev_tag_is_a_valid_oci_tag(seed):
    made = 0
    for branch in _random_branches(400, seed):
        try:
            tag = dev_tag(branch, NOON)
        except TagError as e:
            # Only refused when nothing usable is left, and the message says so.
            assert branch_slug_is_empty(branch), branch
            assert "branch" in str(e)
            continue
        made += 1
        assert OCI.fullmatch(tag), tag
        assert len(tag) <= MAX_TAG_LENGTH
        assert tag.startswith("dev-") and tag.endswith("-202601121400")
        slug = tag[len("dev-") : -len("-202601121400")]
        assert slug[0] not in "._-" and slug[-1] not in "._-"
        assert branch_slug(slug) == slug  # normalising twice changes nothing
    assert made > 300


def branch_slug_is_empty(branch: str) -> bool:
    return not re.sub(r"[^a-z0-9._-]+", "-", branch.lower()).strip("._-")


def test_every_prod_tag_is_a_valid_oci_tag():
    rng = random.Random(7)  # noqa: S311 - test data
    for _ in range(500):
        major, minor, patch = (rng.randrange(0, 1000) for _ in range(3))
        pre = rng.choice(["", "-rc.1", "-alpha", "-beta.2.x-y", "-0", "-x.7.z.92"])
        sha = "".join(rng.choice("0123456789abcdefABCDEF") for _ in range(rng.choice([7, 12, 40])))
        tag = prod_tag(f"v{major}.{minor}.{patch}{pre}", sha)
        assert OCI.fullmatch(tag), tag
        assert tag.endswith("-" + sha[:7].lower())
