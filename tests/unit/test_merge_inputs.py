"""`merge --image`: every platform of each service once, in the form publish --by-digest prints; refused otherwise,
naming the value and what to do, before any registry is read."""

from __future__ import annotations

import pytest
from dojangkok import catalogue, images
from dojangkok.merge import MergeRefused, parse

pytestmark = pytest.mark.unit

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


def multi_platform() -> catalogue.Service:
    return next(s for s in catalogue.BUILT if len(s.platforms) > 1)


def single_platform() -> catalogue.Service:
    return next(s for s in catalogue.BUILT if len(s.platforms) == 1)


def every_platform(svc: catalogue.Service, digest: str = A) -> list[str]:
    return [f"{svc.name}/{p}@{digest}" for p in svc.platforms]


def test_every_platform_of_each_service_makes_the_release_each_in_its_catalogue_platform_order():
    many, one = multi_platform(), single_platform()
    values = list(reversed(every_platform(many))) + every_platform(one, B)
    given = parse(values)
    assert sorted(i.argument for i in given) == sorted(values)
    assert [i.platform for i in given if i.service == many] == list(many.platforms)


def test_a_missing_platform_is_refused_naming_it_and_how_to_push_it():
    svc = multi_platform()
    kept, missing = svc.platforms[0], svc.platforms[1]
    with pytest.raises(MergeRefused, match=f"{svc.name} {missing}: no --image given.*--platform {missing} first"):
        parse([f"{svc.name}/{kept}@{A}"])


def test_a_platform_the_service_does_not_ship_is_refused():
    svc = single_platform()
    other = next(p for p in (catalogue.AMD64, catalogue.ARM64) if p not in svc.platforms)
    with pytest.raises(MergeRefused, match=f"{svc.name} ships {svc.platforms[0]}, not {other}"):
        parse([*every_platform(svc), f"{svc.name}/{other}@{B}"])


def test_a_platform_given_twice_is_refused():
    svc = single_platform()
    with pytest.raises(MergeRefused, match=f"{svc.name} {svc.platforms[0]} is given twice"):
        parse([*every_platform(svc, A), *every_platform(svc, B)])


@pytest.mark.parametrize("value", [
    "ai-server@sha256:" + "a" * 64,  # no platform
    "ai-server/linux/arm64:latest",  # a tag, not a digest
    "ai-server/linux/arm64@sha256:abc",  # a short digest
])
def test_a_value_of_another_form_is_refused_with_the_expected_one(value):
    with pytest.raises(MergeRefused, match="expected SERVICE/OS/ARCH@sha256:<64 hex>"):
        parse([value])


def test_an_unknown_service_is_refused_naming_the_built_ones():
    with pytest.raises(catalogue.UnknownServiceError, match="unknown service 'payments'"):
        parse([f"payments/linux/amd64@{A}"])


def test_nothing_given_is_refused():
    with pytest.raises(MergeRefused, match="needs --image"):
        parse([])


def test_a_runners_share_is_the_catalogues_platforms_among_its_own():
    for platform in (catalogue.AMD64, catalogue.ARM64):
        shares = {s.name: images.shipped_platforms_among(s, [platform]) for s in catalogue.BUILT}
        assert {name for name, share in shares.items() if share} == {
            s.name for s in catalogue.BUILT if platform in s.platforms}
        assert all(share in ((), (platform,)) for share in shares.values())
    # Together the runners build every platform of every service, each once.
    assert all(images.shipped_platforms_among(s, [catalogue.AMD64, catalogue.ARM64]) == s.platforms
               for s in catalogue.BUILT)
    with pytest.raises(images.BuildInputError, match="--platform linux/s390x"):
        images.shipped_platforms_among(catalogue.BUILT[0], ["linux/s390x"])
