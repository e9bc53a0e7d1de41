"""Copy an image between repositories byte for byte, over the OCI distribution API (what `crane copy` does), and
push an image the engine exported by digest, under no tag (what `crane push` of a layout does).

Promotion must deploy the very bytes dev tested: the manifest (or index) is sent exactly as it was read, so it keeps
its digest, and every blob it names is mounted from the source repository (same registry) or streamed across
(another registry) before it. Re-publishing through the engine would not do: loading an image rewrites its config
history, so the digest changes.

Plain httpx. Logins are registry user/password pairs (ECR's ``AWS``, Artifact Registry's ``oauth2accesstoken``);
a registry that answers with a Bearer challenge gets a token from its realm first (the distribution token flow).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tarfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[:2]
REVISION_LABEL = "org.opencontainers.image.revision"  # the commit an image was built from (build labels it)
CHUNK = 32 * 1024 * 1024  # blob upload chunk: a CUDA layer is gigabytes, never held whole in memory


class CopyError(RuntimeError):
    """A registry refused a read or a write of the copy; the message names the registry, repository and step."""


@dataclass(frozen=True)
class Location:
    """A repository as references name it; how to reach its registry is the Registry's URL."""

    registry: str  # host[:port], e.g. 127.0.0.1:5000 or 1234.dkr.ecr.….amazonaws.com
    repository: str  # dojangkok/frontend

    @classmethod
    def of(cls, repository_ref: str) -> Location:
        registry, _, repository = repository_ref.partition("/")
        return cls(registry, repository)


@dataclass
class Registry:
    """One registry's API with one login (None: anonymous)."""

    url: str
    login: tuple[str, str] | None = None
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=httpx.Timeout(60, read=300)))
    _tokens: dict[str, str] = field(default_factory=dict)  # scope -> Bearer token

    def request(self, method: str, path: str, *, scope: str, stream: bool = False, **kwargs) -> httpx.Response:
        """One API call with this registry's login, following its Bearer challenge once; `stream` responses are
        the caller's to close."""
        url = path if path.startswith("http") else f"{self.url}{path}"
        headers = dict(kwargs.pop("headers", {}))
        while True:
            if scope in self._tokens:
                headers["Authorization"] = f"Bearer {self._tokens[scope]}"
            elif self.login:
                headers["Authorization"] = "Basic " + base64.b64encode(":".join(self.login).encode()).decode()
            request = self.http.build_request(method, url, headers=headers, **kwargs)
            try:
                response = self.http.send(request, stream=stream, follow_redirects=method in {"GET", "HEAD"})
            except httpx.HTTPError as error:
                raise CopyError(f"{self.url} did not answer {method} {request.url.path} ({error})") from error
            if response.status_code != 401 or not self._authenticate(response, scope):
                return response
            response.close()

    def _authenticate(self, response: httpx.Response, scope: str) -> bool:
        """Follow a Bearer challenge once per scope; False when there is nothing more to try."""
        challenge = response.headers.get("WWW-Authenticate", "")
        if not challenge.lower().startswith("bearer") or scope in self._tokens:
            return False
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        query = {"service": params.get("service", ""), "scope": params.get("scope", scope)}
        answer = self.http.get(params.get("realm", ""), params=query, auth=self.login)
        if answer.status_code != 200:
            raise CopyError(f"{self.url}: the token service refused the login ({answer.status_code})")
        body = answer.json()
        self._tokens[scope] = body.get("token") or body.get("access_token", "")
        return True

    @staticmethod
    def pull(repository: str) -> str:
        return f"repository:{repository}:pull"

    @staticmethod
    def push(repository: str) -> str:
        return f"repository:{repository}:pull,push"


# How a function reaches a registry: its URL and login, by the registry's name in references.
Reach = Callable[[str], tuple[str, tuple[str, str] | None]]


def reached(reach: Reach, name: str) -> Registry:
    """The registry `name` as `reach` says a function gets to it."""
    url, login = reach(name)
    return Registry(url, login)


def _check(response: httpx.Response, what: str, *ok: int) -> httpx.Response:
    if response.status_code not in (ok or (200,)):
        response.read()  # a streamed response has not read its body yet
        raise CopyError(f"{what}: {response.status_code} {response.text[:300]}")
    return response


def read_manifest(registry: Registry, repository: str, reference: str) -> tuple[bytes, str]:
    """The manifest bytes exactly as stored, and their media type."""
    response = registry.request("GET", f"/v2/{repository}/manifests/{reference}", scope=Registry.pull(repository),
                                headers={"Accept": ", ".join(MANIFEST_TYPES)})
    _check(response, f"reading {registry.url}/{repository}@{reference}")
    return response.content, response.headers.get("Content-Type", "").split(";")[0]


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def copy(source: Location, source_registry: Registry, digest: str, target: Location, target_registry: Registry,
         tag: str) -> str:
    """Copy `source`@`digest` (every manifest and blob it names) to `target` under `tag`; the digest it landed on,
    which must be `digest` (CopyError otherwise)."""
    copied: set[str] = set()

    def copy_manifest(reference: str) -> tuple[bytes, str]:
        body, media_type = read_manifest(source_registry, source.repository, reference)
        if digest_of(body) != reference:
            raise CopyError(f"{source.registry}/{source.repository}@{reference} answered bytes of another digest")
        document = json.loads(body)
        if media_type in INDEX_TYPES:
            for child in document.get("manifests", []):
                child_body, child_type = copy_manifest(child["digest"])
                put_manifest(child["digest"], child_body, child_type)
        else:
            for blob in [document["config"], *document.get("layers", [])]:
                copy_blob(blob["digest"], int(blob.get("size", 0)))
        return body, media_type

    def copy_blob(blob: str, size: int) -> None:
        if blob in copied:
            return
        copied.add(blob)
        repo = target.repository
        if has_blob(target_registry, target, blob):
            return
        if source.registry == target.registry:  # cross-repository mount: no bytes move
            mounted = target_registry.request(
                "POST", f"/v2/{repo}/blobs/uploads/", scope=Registry.push(repo),
                params={"mount": blob, "from": source.repository})
            if mounted.status_code == 201:
                return
        stream_blob(blob, size)

    def stream_blob(blob: str, size: int) -> None:
        download = source_registry.request("GET", f"/v2/{source.repository}/blobs/{blob}", stream=True,
                                           scope=Registry.pull(source.repository))  # may redirect to storage
        try:
            _check(download, f"reading blob {blob} of {source.registry}/{source.repository}")
            upload_blob(target_registry, target, blob, download.iter_bytes(CHUNK), size,
                        f"blob {blob} of {source.registry}/{source.repository}")
        finally:
            download.close()

    def put_manifest(reference: str, body: bytes, media_type: str) -> str:
        return write_manifest(target_registry, target, reference, body, media_type)

    body, media_type = copy_manifest(digest)
    landed = put_manifest(tag, body, media_type)
    if landed != digest:
        raise CopyError(f"{target.registry}/{target.repository}:{tag} landed as {landed}, not {digest}")
    return landed


def has_blob(registry: Registry, location: Location, blob: str) -> bool:
    head = registry.request("HEAD", f"/v2/{location.repository}/blobs/{blob}",
                            scope=Registry.push(location.repository))
    return head.status_code == 200


def upload_blob(registry: Registry, location: Location, blob: str, chunks: Iterable[bytes], size: int,
                what: str) -> None:
    """Upload a blob in chunks (a chunked upload: POST, a PATCH per chunk, PUT with its digest); CopyError when
    the bytes are not `blob` or not `size` long."""
    repo = location.repository
    started = _check(registry.request("POST", f"/v2/{repo}/blobs/uploads/", scope=Registry.push(repo)),
                     f"starting an upload to {location.registry}/{repo}", 202)
    upload = _absolute(registry.url, started.headers["Location"])
    offset = 0
    hashed = hashlib.sha256()
    for chunk in chunks:
        hashed.update(chunk)
        patched = registry.request(
            "PATCH", upload, scope=Registry.push(repo), content=chunk,
            headers={"Content-Type": "application/octet-stream",
                     "Content-Range": f"{offset}-{offset + len(chunk) - 1}"})
        _check(patched, f"uploading {blob} to {location.registry}/{repo}", 202)
        upload = _absolute(registry.url, patched.headers["Location"])
        offset += len(chunk)
    if f"sha256:{hashed.hexdigest()}" != blob:
        raise CopyError(f"{what} answered other bytes")
    if size and offset != size:
        raise CopyError(f"{what}: read {offset} bytes, its manifest says {size}")
    done = registry.request("PUT", with_digest(upload, blob), scope=Registry.push(repo))
    _check(done, f"finishing the upload of {blob} to {location.registry}/{repo}", 201)


def push_layout(registry: Registry, location: Location, layout: Path) -> tuple[str, str, int]:
    """Push the one image of an OCI layout tarball (what the engine's `asTarball` writes) by digest, under no tag:
    its blobs, then its manifest as it is; (digest, media type, size) of the manifest."""
    with tarfile.open(layout) as tar:
        def blob_of(digest: str) -> tarfile.ExFileObject:
            member = tar.extractfile(f"blobs/{digest.replace(':', '/')}")
            if member is None:
                raise CopyError(f"{layout.name}: no blob {digest} in the layout")
            return member

        entry = {"mediaType": INDEX_TYPES[0], "digest": "index.json"}
        while entry["mediaType"] in INDEX_TYPES:  # index.json, and an index of one image the exporter may add
            found = json.load(tar.extractfile("index.json") if entry["digest"] == "index.json"
                              else blob_of(entry["digest"])).get("manifests", [])
            if len(found) != 1:
                raise CopyError(f"{layout.name}: {len(found)} images where one platform's image was expected")
            entry = found[0]
        body = blob_of(entry["digest"]).read()
        document = json.loads(body)
        for blob in [document["config"], *document.get("layers", [])]:
            if has_blob(registry, location, blob["digest"]):
                continue
            reader = blob_of(blob["digest"])
            upload_blob(registry, location, blob["digest"], iter(lambda r=reader: r.read(CHUNK), b""),
                        int(blob.get("size", 0)), f"{layout.name}: blob {blob['digest']}")
    landed = write_manifest(registry, location, entry["digest"], body, entry["mediaType"])
    if landed != entry["digest"]:
        raise CopyError(f"{location.registry}/{location.repository}@{entry['digest']} landed as {landed}")
    return landed, entry["mediaType"], len(body)


def tag(registry: Registry, location: Location, digest: str, name: str) -> str:
    """Point `name` at the manifest `digest` already in the repository; CopyError when the registry lands it on
    another manifest (it answered other bytes for `digest`, or rewrote them)."""
    body, media_type = read_manifest(registry, location.repository, digest)
    landed = write_manifest(registry, location, name, body, media_type)
    if landed != digest:
        raise CopyError(f"{location.registry}/{location.repository}:{name} landed as {landed}, not {digest}")
    return landed


def write_manifest(registry: Registry, location: Location, reference: str, body: bytes, media_type: str) -> str:
    """Store manifest bytes as they are under `reference` (a tag or their digest); the digest the registry gives."""
    repo = location.repository
    response = registry.request("PUT", f"/v2/{repo}/manifests/{reference}", scope=Registry.push(repo),
                                content=body, headers={"Content-Type": media_type})
    _check(response, f"writing {location.registry}/{repo}:{reference}", 201)
    return response.headers.get("Docker-Content-Digest", digest_of(body))


def _absolute(base: str, location: str) -> str:
    return location if location.startswith("http") else f"{base}{location}"


def with_digest(location: str, digest: str) -> str:
    """An upload location with ?digest= added to the query it already carries (its upload state)."""
    return f"{location}{'&' if '?' in location else '?'}digest={digest}"


def describe(registry: Registry, repository: str, digest: str) -> tuple[list[str], dict[str, str]]:
    """The platforms of an image (its index's entries, or its one config's) and its labels (first platform's)."""
    body, media_type = read_manifest(registry, repository, digest)
    document = json.loads(body)
    platforms = []
    if media_type in INDEX_TYPES:
        entries = [m for m in document.get("manifests", []) if (m.get("platform") or {}).get("os") != "unknown"]
        platforms = [f"{m['platform']['os']}/{m['platform']['architecture']}" for m in entries]
        if not entries:
            raise CopyError(f"{registry.url}/{repository}@{digest} is an index without an image")
        document = json.loads(read_manifest(registry, repository, entries[0]["digest"])[0])
    described = image_config(registry, repository, document, digest)
    if not platforms:
        platforms = [f"{described.get('os', 'linux')}/{described.get('architecture', 'amd64')}"]
    return platforms, (described.get("config") or {}).get("Labels") or {}


def image_config(registry: Registry, repository: str, manifest: dict, digest: str) -> dict:
    """The image configuration (platform, labels, …) an image manifest (of `digest`) names."""
    config_digest = manifest["config"]["digest"]
    response = registry.request("GET", f"/v2/{repository}/blobs/{config_digest}", scope=Registry.pull(repository))
    return _check(response, f"reading the config of {registry.url}/{repository}@{digest}").json()


def referrers(registry: Registry, repository: str, digest: str) -> list[dict]:
    """The descriptors of what refers to the manifest `digest` (signatures, attestations): the referrers API, or
    the ``sha256-<hex>`` tag schema an older registry keeps them under (OCI distribution 1.1)."""
    response = registry.request("GET", f"/v2/{repository}/referrers/{digest}", scope=Registry.pull(repository),
                                headers={"Accept": INDEX_TYPES[0]})
    if response.status_code == 200 and response.headers.get("Content-Type", "").startswith(INDEX_TYPES[0]):
        return response.json().get("manifests", [])
    fallback = digest.replace(":", "-")
    response = registry.request("GET", f"/v2/{repository}/manifests/{fallback}", scope=Registry.pull(repository),
                                headers={"Accept": INDEX_TYPES[0]})
    if response.status_code == 404:
        return []
    return _check(response, f"reading the referrers of {registry.url}/{repository}@{digest}").json().get(
        "manifests", [])


def copy_referrers(source: Location, source_registry: Registry, digest: str, target: Location,
                   target_registry: Registry) -> list[str]:
    """Copy the signatures and attestations of `digest` and of every image in its index, each keeping its digest
    (and the ``sha256-<hex>`` index an older registry lists them under); the digests copied."""
    body, media_type = read_manifest(source_registry, source.repository, digest)
    subjects = [digest] + [m["digest"] for m in json.loads(body).get("manifests", [])
                           if media_type in INDEX_TYPES]
    copied = []
    for subject in subjects:
        for referrer in referrers(source_registry, source.repository, subject):
            copy(source, source_registry, referrer["digest"], target, target_registry, referrer["digest"])
            copied.append(referrer["digest"])
        fallback = subject.replace(":", "-")
        listing = source_registry.request("GET", f"/v2/{source.repository}/manifests/{fallback}",
                                          scope=Registry.pull(source.repository), headers={"Accept": INDEX_TYPES[0]})
        if listing.status_code == 200:
            write_manifest(target_registry, target, fallback, listing.content,
                           listing.headers.get("Content-Type", INDEX_TYPES[0]).split(";")[0])
    return copied
