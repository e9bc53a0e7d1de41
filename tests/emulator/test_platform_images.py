"""A release's share pushed by digest, and the merge's checks of each share, against a real registry (Debian's
docker-registry): `oci.push_layout` of an OCI layout as the engine exports one, `merge.entry` of what it pushed."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

import pytest
from dojangkok import catalogue, oci
from dojangkok.merge import MergeRefused, PlatformImage, entry, index
from dojangkok_local.registry import LocalRegistry

pytestmark = pytest.mark.emulator

REPOSITORY = "dojangkok/ai-server"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
SERVICE = catalogue.service("ai-server")


@pytest.fixture
def registry():
    with LocalRegistry() as running:
        yield running


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layout(path: Path, arch: str, *, commit: str = COMMIT, corrupt: bool = False, nested: bool = False) -> Path:
    """An OCI layout tarball of one linux/`arch` image (a config and a layer larger than the upload chunk), as
    `asTarball` writes one; `corrupt`: its layer's bytes are not those its digest names; `nested`: index.json
    names an index of the image."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes, stored: bytes | None = None) -> dict:
        blobs[digest(data)] = data if stored is None else stored
        return {"digest": digest(data), "size": len(data)}

    layer = os.urandom(200 * 1024)
    config = {"os": "linux", "architecture": arch, "config": {"Labels": {oci.REVISION_LABEL: commit}},
              "rootfs": {"type": "layers", "diff_ids": [digest(layer)]}}
    manifest = {"schemaVersion": 2, "mediaType": oci.MANIFEST_TYPES[2],
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                           **blob(json.dumps(config).encode())},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                            **blob(layer, os.urandom(len(layer)) if corrupt else None)}]}
    image = {"mediaType": oci.MANIFEST_TYPES[2], **blob(json.dumps(manifest).encode())}
    top = image
    if nested:
        top = {"mediaType": oci.INDEX_TYPES[0], **blob(json.dumps(
            {"schemaVersion": 2, "mediaType": oci.INDEX_TYPES[0], "manifests": [image]}).encode())}
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}',
             "index.json": json.dumps({"schemaVersion": 2, "manifests": [top]}).encode(),
             **{f"blobs/{d.replace(':', '/')}": data for d, data in blobs.items()}}
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def push(registry: LocalRegistry, tarball: Path) -> str:
    api = oci.Registry(f"http://{registry.address}")
    return oci.push_layout(api, oci.Location(registry.address, REPOSITORY), tarball)[0]


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    monkeypatch.setattr(oci, "CHUNK", 64 * 1024)  # several PATCHes per layer, as a gigabyte layer gets


@pytest.mark.parametrize("nested", [False, True])
def test_a_layout_lands_by_digest_under_no_tag(registry, tmp_path, nested):
    pushed = push(registry, layout(tmp_path / "image.tar", "arm64", nested=nested))
    assert registry.api().platforms(REPOSITORY, pushed) == (pushed, {"linux/arm64"})
    assert registry.api().tags(REPOSITORY) == []


def test_a_layout_whose_bytes_are_not_their_digest_is_refused_and_no_manifest_lands(registry, tmp_path):
    tarball = layout(tmp_path / "image.tar", "arm64", corrupt=True)
    manifest = json.loads(tarfile.open(tarball).extractfile("index.json").read())["manifests"][0]["digest"]
    with pytest.raises(oci.CopyError, match="answered other bytes"):
        push(registry, tarball)
    assert registry.api().http.get(f"{REPOSITORY}/manifests/{manifest}").status_code == 404


def test_each_share_passes_the_merges_checks_and_the_index_names_both(registry, tmp_path):
    api = oci.Registry(f"http://{registry.address}")
    pushed = {p: push(registry, layout(tmp_path / f"{p.replace('/', '-')}.tar", p.split("/")[1]))
              for p in SERVICE.platforms}
    entries = [entry(api, REPOSITORY, PlatformImage(SERVICE, p, pushed[p]), COMMIT[:7]) for p in SERVICE.platforms]
    body = index(entries)
    landed = oci.write_manifest(api, oci.Location(registry.address, REPOSITORY), oci.digest_of(body), body,
                                oci.INDEX_TYPES[0])
    assert registry.api().platforms(REPOSITORY, landed) == (landed, set(SERVICE.platforms))
    assert [e["digest"] for e in registry.api().manifest(REPOSITORY, landed)[1]["manifests"]] == [
        pushed[p] for p in SERVICE.platforms]


def test_the_merge_refuses_a_share_of_another_commit_platform_or_kind_naming_the_check(registry, tmp_path):
    api = oci.Registry(f"http://{registry.address}")
    arm = push(registry, layout(tmp_path / "arm.tar", "arm64"))
    other_commit = push(registry, layout(tmp_path / "other.tar", "amd64", commit="f" * 40))
    listing = index([entry(api, REPOSITORY, PlatformImage(SERVICE, "linux/arm64", arm), COMMIT)])
    an_index = oci.write_manifest(api, oci.Location(registry.address, REPOSITORY), oci.digest_of(listing), listing,
                                  oci.INDEX_TYPES[0])
    refusals = {
        "the platform check failed: given as linux/amd64, the image is built for linux/arm64": ("linux/amd64", arm),
        f"the commit check failed: its {oci.REVISION_LABEL} label names ffff": ("linux/amd64", other_commit),
        "an index, not one platform's image": ("linux/arm64", an_index),
        "not in the repository": ("linux/arm64", digest(b"never pushed")),
    }
    for message, (platform, pushed) in refusals.items():
        with pytest.raises(MergeRefused, match=f"ai-server {platform} .*{message}"):
            entry(api, REPOSITORY, PlatformImage(SERVICE, platform, pushed), COMMIT)
