"""promote's byte-for-byte copy (dojangkok.oci) between real registries: Debian's docker-registry behind basic auth,
as ECR and Artifact Registry are; images written over the distribution API as a build would push them."""

from __future__ import annotations

import json
import os
import re

import pytest
from dojangkok import oci
from dojangkok_local.registry import LocalRegistry, LyingProxy

pytestmark = pytest.mark.emulator

USER, PASSWORD = "promoter", "s3cret-for-tests"
REVISION = "0123456789abcdef0123456789abcdef01234567"
REVISION_LABEL = oci.REVISION_LABEL


@pytest.fixture
def dev_registry():
    with LocalRegistry(USER, PASSWORD) as running:
        yield running


@pytest.fixture
def prd_registry():
    with LocalRegistry(USER, PASSWORD) as running:
        yield running


def api(registry: LocalRegistry | LyingProxy, login=(USER, PASSWORD)) -> oci.Registry:
    return oci.Registry(f"http://{registry.address}", login)


def push_blob(registry: oci.Registry, repository: str, data: bytes) -> dict:
    digest = oci.digest_of(data)
    started = registry.request("POST", f"/v2/{repository}/blobs/uploads/", scope="push")
    assert started.status_code == 202, started.text
    location = oci._absolute(registry.url, started.headers["Location"])
    done = registry.request("PUT", oci.with_digest(location, digest), scope="push", content=data)
    assert done.status_code == 201, done.text
    return {"digest": digest, "size": len(data)}


def push_manifest(registry: oci.Registry, repository: str, document: dict, tag: str = "") -> str:
    body = json.dumps(document, indent=3).encode()  # an odd indent: a copy that re-serialises changes the digest
    digest = oci.digest_of(body)
    response = registry.request("PUT", f"/v2/{repository}/manifests/{tag or digest}", scope="push", content=body,
                                headers={"Content-Type": document["mediaType"]})
    assert response.status_code == 201, response.text
    return digest


def two_platform_image(registry: oci.Registry, repository: str) -> str:
    """An index of linux/amd64 + linux/arm64, each a config with the revision label and two layers, one of them
    larger than the upload chunk the tests set."""
    entries = []
    for arch in ("amd64", "arm64"):
        config = {"os": "linux", "architecture": arch, "config": {"Labels": {REVISION_LABEL: REVISION}},
                  "rootfs": {"type": "layers", "diff_ids": []}}
        layers = [push_blob(registry, repository, os.urandom(size)) for size in (300 * 1024 + 7, 512)]
        manifest = {"schemaVersion": 2, "mediaType": oci.MANIFEST_TYPES[2],
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                               **push_blob(registry, repository, json.dumps(config).encode())},
                    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", **layer}
                               for layer in layers]}
        entries.append({"mediaType": oci.MANIFEST_TYPES[2], "digest": push_manifest(registry, repository, manifest),
                        "size": len(json.dumps(manifest, indent=3)), "platform": {"os": "linux", "architecture": arch}})
    index = {"schemaVersion": 2, "mediaType": oci.MANIFEST_TYPES[0], "manifests": entries}
    return push_manifest(registry, repository, index, tag="dev-main-202612020400")


def blobs_of(registry: oci.Registry, repository: str, digest: str) -> set[str]:
    index = json.loads(oci.read_manifest(registry, repository, digest)[0])
    found = set()
    for entry in index["manifests"]:
        manifest = json.loads(oci.read_manifest(registry, repository, entry["digest"])[0])
        found |= {manifest["config"]["digest"], *(layer["digest"] for layer in manifest["layers"])}
    return found


def present(registry: oci.Registry, repository: str, blob: str) -> bool:
    return registry.request("HEAD", f"/v2/{repository}/blobs/{blob}", scope="pull").status_code == 200


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(oci, "CHUNK", 64 * 1024)  # several PATCHes per layer, as a gigabyte layer gets


def test_an_index_lands_in_another_registry_under_its_own_digest(dev_registry, prd_registry):
    dev, prd = api(dev_registry), api(prd_registry)
    digest = two_platform_image(dev, "dojangkok/frontend")
    source = oci.Location(dev_registry.address, "dojangkok/frontend")
    target = oci.Location(prd_registry.address, "dojangkok/frontend")

    assert oci.copy(source, dev, digest, target, prd, "prod-v1.4.0-0123456") == digest
    assert prd_registry.api().manifest("dojangkok/frontend", "prod-v1.4.0-0123456")[0] == digest
    for blob in blobs_of(dev, "dojangkok/frontend", digest):
        assert present(prd, "dojangkok/frontend", blob)  # every platform's config and layers, not only the index
    assert oci.tag(prd, target, digest, "latest") == digest
    platforms, labels = oci.describe(prd, "dojangkok/frontend", digest)
    assert platforms == ["linux/amd64", "linux/arm64"] and labels == {REVISION_LABEL: REVISION}


def test_within_one_registry_blobs_are_mounted_not_moved(dev_registry):
    dev = api(dev_registry)
    digest = two_platform_image(dev, "dojangkok/frontend")
    source = oci.Location(dev_registry.address, "dojangkok/frontend")
    target = oci.Location(dev_registry.address, "dojangkok-prd/frontend")
    patches = []
    dev.http.event_hooks["request"].append(lambda request: request.method == "PATCH" and patches.append(request))
    assert oci.copy(source, dev, digest, target, dev, "prod-v1.4.0-0123456") == digest
    assert patches == []  # no bytes were uploaded: cross-repository mounts
    assert all(present(dev, "dojangkok-prd/frontend", b) for b in blobs_of(dev, "dojangkok/frontend", digest))


def test_a_refused_login_stops_the_copy_with_the_registry_named(dev_registry, prd_registry):
    dev = api(dev_registry)
    digest = two_platform_image(dev, "dojangkok/frontend")
    source = oci.Location(dev_registry.address, "dojangkok/frontend")
    target = oci.Location(prd_registry.address, "dojangkok/frontend")
    with pytest.raises(oci.CopyError, match=f"{prd_registry.address}/dojangkok/frontend.*401"):
        oci.copy(source, dev, digest, target, api(prd_registry, (USER, "wrong")), "prod-v1.4.0-0123456")
    assert prd_registry.api().tags("dojangkok/frontend") == []


@pytest.fixture
def lying_dev(dev_registry):
    """dev_registry behind a proxy that answers chosen reads with the bytes of another digest (LyingProxy)."""
    with LyingProxy(dev_registry.address) as running:
        yield running


def manifest_present(registry: oci.Registry, repository: str, reference: str) -> bool:
    response = registry.request("HEAD", f"/v2/{repository}/manifests/{reference}", scope="pull",
                                headers={"Accept": ", ".join(oci.MANIFEST_TYPES)})
    return response.status_code == 200


def test_a_manifest_answered_with_other_bytes_than_its_digest_is_refused(dev_registry, prd_registry, lying_dev):
    """The source answers, under the index digest dev tested, another complete image of the same repository (and
    claims the digest asked for): promote must not deploy it, nor write anything of it."""
    dev, prd = api(dev_registry), api(prd_registry)
    tested = two_platform_image(dev, "dojangkok/frontend")
    other = two_platform_image(dev, "dojangkok/frontend")  # other layers: another digest, as complete an image
    lying_dev.answer_with(f"/v2/dojangkok/frontend/manifests/{tested}", f"/v2/dojangkok/frontend/manifests/{other}")
    liar = api(lying_dev)
    answered = liar.request("GET", f"/v2/dojangkok/frontend/manifests/{tested}", scope="pull",
                            headers={"Accept": ", ".join(oci.MANIFEST_TYPES)})
    assert other != tested and oci.digest_of(answered.content) == other  # the source really answers other bytes
    assert answered.headers["Docker-Content-Digest"] == tested  # and claims they are the ones asked for
    source = oci.Location(lying_dev.address, "dojangkok/frontend")
    target = oci.Location(prd_registry.address, "dojangkok/frontend")

    with pytest.raises(oci.CopyError, match=re.escape(
            f"{lying_dev.address}/dojangkok/frontend@{tested} answered bytes of another digest")):
        oci.copy(source, liar, tested, target, prd, "prod-v1.4.0-0123456")
    assert prd_registry.api().catalog() == {}  # no tag, no repository: nothing of either image was written
    for blob in blobs_of(dev, "dojangkok/frontend", other) | blobs_of(dev, "dojangkok/frontend", tested):
        assert not present(prd, "dojangkok/frontend", blob)
    assert not manifest_present(prd, "dojangkok/frontend", other)
    assert not manifest_present(prd, "dojangkok/frontend", tested)


def test_a_blob_answered_with_other_bytes_than_its_digest_is_refused(dev_registry, prd_registry, lying_dev):
    """The source answers, for the arm64 image's large layer, other bytes of the same size (so only their digest
    tells them apart), streamed in several chunks: the copy refuses before the blob is committed, and no manifest
    naming it, nor any tag, reaches the target."""
    dev, prd = api(dev_registry), api(prd_registry)
    digest = two_platform_image(dev, "dojangkok/frontend")
    arm64 = json.loads(oci.read_manifest(dev, "dojangkok/frontend", digest)[0])["manifests"][1]
    assert arm64["platform"]["architecture"] == "arm64"
    layer = json.loads(oci.read_manifest(dev, "dojangkok/frontend", arm64["digest"])[0])["layers"][0]
    assert layer["size"] > 2 * oci.CHUNK  # the hash is over every chunk streamed, not only the first
    impostor = push_blob(dev, "dojangkok/frontend", os.urandom(layer["size"]))
    lying_dev.answer_with(f"/v2/dojangkok/frontend/blobs/{layer['digest']}",
                          f"/v2/dojangkok/frontend/blobs/{impostor['digest']}")
    liar = api(lying_dev)
    answered = liar.request("GET", f"/v2/dojangkok/frontend/blobs/{layer['digest']}", scope="pull")
    assert impostor["digest"] != layer["digest"] and oci.digest_of(answered.content) == impostor["digest"]
    assert len(answered.content) == layer["size"]  # the size the manifest says: the size check cannot catch it
    source = oci.Location(lying_dev.address, "dojangkok/frontend")
    target = oci.Location(prd_registry.address, "dojangkok/frontend")

    with pytest.raises(oci.CopyError, match=re.escape(
            f"blob {layer['digest']} of {lying_dev.address}/dojangkok/frontend answered other bytes")):
        oci.copy(source, liar, digest, target, prd, "prod-v1.4.0-0123456")
    assert prd_registry.api().tags("dojangkok/frontend") == []
    assert not present(prd, "dojangkok/frontend", layer["digest"])  # the upload was never committed,
    assert not present(prd, "dojangkok/frontend", impostor["digest"])  # under either digest
    assert not manifest_present(prd, "dojangkok/frontend", arm64["digest"])  # nor what names the blob
    assert not manifest_present(prd, "dojangkok/frontend", digest)


def test_a_registry_nobody_answers_for_is_named():
    with pytest.raises(oci.CopyError, match=re.escape("http://127.0.0.1:9 did not answer GET")):
        oci.describe(oci.Registry("http://127.0.0.1:9"), "dojangkok/frontend", "sha256:" + "0" * 64)


def test_a_tag_the_registry_lands_on_another_manifest_is_refused(dev_registry, lying_dev):
    """Moving `latest`: the registry answers other bytes for the digest to tag, so the tag would name another
    image; the move is refused, naming both digests."""
    dev = api(dev_registry)
    wanted = two_platform_image(dev, "dojangkok/frontend")
    other = two_platform_image(dev, "dojangkok/frontend")
    lying_dev.answer_with(f"/v2/dojangkok/frontend/manifests/{wanted}", f"/v2/dojangkok/frontend/manifests/{other}")
    location = oci.Location(lying_dev.address, "dojangkok/frontend")
    with pytest.raises(oci.CopyError, match=re.escape(f"frontend:latest landed as {other}, not {wanted}")):
        oci.tag(api(lying_dev), location, wanted, "latest")
    assert oci.tag(dev, location, wanted, "latest") == wanted  # told the truth, the same move lands
