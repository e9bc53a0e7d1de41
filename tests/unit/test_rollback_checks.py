"""What rollback's check of the release it returns to refuses (a bad reference, an unreadable manifest), and what it
lets through as the bug it is."""

import asyncio
import json
from types import SimpleNamespace

import httpx
import pytest
from dojangkok import catalogue, oci
from dojangkok.main import Dojangkok
from dojangkok.supply_chain import VerifyRefused

pytestmark = pytest.mark.unit

IMAGE = "127.0.0.1:5000/dojangkok/frontend@sha256:" + "a" * 64
SIGNED = object()  # with-signing declared: a release that cannot be checked is refused


def returned_to(monkeypatch, raised: Exception, image: str = IMAGE, signing: object = None) -> str:
    """The commit rollback's check records for `image`, with the registry read raising `raised`."""

    def describe(*_args):
        raise raised

    monkeypatch.setattr(oci, "describe", describe)
    module = SimpleNamespace(config=SimpleNamespace(signing=signing))
    check = Dojangkok._verify_returned(module, None, catalogue.service("frontend"), image,
                                       lambda name: (f"http://{name}", None))
    return asyncio.run(check)


@pytest.mark.parametrize("raised", [oci.CopyError("reading the manifest: 404"), httpx.ConnectError("refused"),
                                    json.JSONDecodeError("Expecting value", "<html>", 0)])
def test_an_unreadable_manifest_refuses_a_signed_release_and_leaves_an_unsigned_commit_unknown(monkeypatch, raised):
    assert returned_to(monkeypatch, raised) == ""
    with pytest.raises(VerifyRefused, match="its manifest could not be read"):
        returned_to(monkeypatch, raised, signing=SIGNED)


def test_a_reference_without_a_digest_is_refused_as_such(monkeypatch):
    with pytest.raises(VerifyRefused, match="not an image by digest"):
        returned_to(monkeypatch, AssertionError("not read"), image=IMAGE.split("@")[0] + ":latest", signing=SIGNED)


def test_a_bug_is_not_reported_as_an_unreadable_manifest(monkeypatch):
    with pytest.raises(TypeError, match="unexpected keyword"):
        returned_to(monkeypatch, TypeError("describe() got an unexpected keyword argument"), signing=SIGNED)
    with pytest.raises(TypeError):
        returned_to(monkeypatch, TypeError("describe() got an unexpected keyword argument"))
