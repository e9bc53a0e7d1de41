"""Stands in for ECR and Artifact Registry in tests: a local registry behind basic auth (as they are), a proxy that
refuses chosen pushes (a registry failing half-way through a release), one that answers chosen reads with other bytes
(a registry or its storage serving corrupt content); RegistryApi reads what a registry holds."""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import httpx


def engine_registry() -> str:
    """The registry scripts/engine runs beside the engine: the stand-in bases (the engine's Docker Hub mirror) and
    what the main job and the benchmarks publish."""
    return os.environ.get("DOJANGKOK_REGISTRY", "127.0.0.1:5000")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RegistryApi:
    """Reads what a registry holds over the OCI distribution API, the way a deploy target would."""

    # An index for multi-platform pushes, a single manifest for one platform: accept what was pushed.
    MANIFEST_TYPES = ", ".join(
        (
            "application/vnd.oci.image.index.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json",
            "application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v2+json",
        )
    )

    def __init__(self, address: str, auth: tuple[str, str] | None = None):
        self.http = httpx.Client(base_url=f"http://{address}/v2/", auth=auth, timeout=30)

    def manifest(self, repository: str, reference: str) -> tuple[str, dict]:
        response = self.http.get(f"{repository}/manifests/{reference}", headers={"Accept": self.MANIFEST_TYPES})
        response.raise_for_status()
        return response.headers["Docker-Content-Digest"], response.json()

    def platforms(self, repository: str, reference: str) -> tuple[str, set[str]]:
        """The manifest's digest and the platforms (os/architecture) it holds: an index's entries, or a single
        image's own, from its config."""
        digest, manifest = self.manifest(repository, reference)
        if "manifests" in manifest:
            return digest, {f"{m['platform']['os']}/{m['platform']['architecture']}" for m in manifest["manifests"]}
        response = self.http.get(f"{repository}/blobs/{manifest['config']['digest']}")
        response.raise_for_status()
        config = response.json()
        return digest, {f"{config['os']}/{config['architecture']}"}

    def retag(self, repository: str, source: str, tag: str) -> None:
        """Point ``tag`` at the manifest ``source`` names, in the same repository (no blob moves)."""
        response = self.http.get(f"{repository}/manifests/{source}", headers={"Accept": self.MANIFEST_TYPES})
        response.raise_for_status()
        self.http.put(
            f"{repository}/manifests/{tag}",
            content=response.content,
            headers={"Content-Type": response.headers["Content-Type"]},
        ).raise_for_status()

    def push_image(self, repository: str, tag: str, config: dict) -> str:
        """A minimal image (its config, no layers) under `tag`: a real manifest to point tags at, made in
        milliseconds; its digest."""
        blob = json.dumps({"architecture": "amd64", "os": "linux", "config": config}).encode()
        digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
        location = self.http.post(f"{repository}/blobs/uploads/").raise_for_status().headers["Location"]
        upload = self.http.base_url.join(location)  # the upload URL the registry gave, its state in the query
        self.http.put(upload.copy_merge_params({"digest": digest}), content=blob,
                      headers={"Content-Type": "application/octet-stream"}).raise_for_status()
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest,
                               "size": len(blob)},
                    "layers": []}
        response = self.http.put(f"{repository}/manifests/{tag}", content=json.dumps(manifest).encode(),
                                 headers={"Content-Type": manifest["mediaType"]}).raise_for_status()
        return response.headers["Docker-Content-Digest"]

    def tags(self, repository: str) -> list[str]:
        response = self.http.get(f"{repository}/tags/list")
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return response.json().get("tags") or []

    def catalog(self) -> dict[str, list[str]]:
        repositories = self.http.get("_catalog").raise_for_status().json().get("repositories") or []
        return {r: sorted(self.tags(r)) for r in repositories}


class LocalRegistry:
    """Debian's docker-registry on a free loopback port, in a directory of its own removed on exit; with a user
    and password, behind basic auth (as ECR and Artifact Registry are)."""

    def __init__(self, user: str = "", password: str = ""):
        self.user, self.password = user, password
        self.address = f"127.0.0.1:{free_port()}"
        self.dir = Path(tempfile.mkdtemp(prefix="dojangkok-registry-"))

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def __enter__(self) -> LocalRegistry:
        auth = ""
        if self.user:
            htpasswd = subprocess.run(
                ["htpasswd", "-Bbn", self.user, self.password], check=True, capture_output=True, text=True
            ).stdout
            (self.dir / "htpasswd").write_text(htpasswd)
            auth = f"auth: {{htpasswd: {{realm: dojangkok, path: {self.dir}/htpasswd}}}}\n"
        (self.dir / "config.yml").write_text(
            "version: 0.1\nlog: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {self.dir}/data}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: {self.address}}}\n{auth}"
        )
        self.process = subprocess.Popen(
            ["docker-registry", "serve", str(self.dir / "config.yml")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                httpx.get(f"http://{self.address}/v2/", timeout=1)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.__exit__()
        raise RuntimeError(f"registry on {self.address} did not start")

    def __exit__(self, *exc) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def api(self) -> RegistryApi:
        return RegistryApi(self.address, (self.user, self.password) if self.user else None)

    def refused_anonymous(self) -> bool:
        return httpx.get(f"http://{self.address}/v2/_catalog", timeout=5).status_code == 401


class RefusingProxy:
    """Forwards to a registry, but answers DENIED to manifest pushes of tags with a chosen prefix."""

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.address = f"127.0.0.1:{free_port()}"
        self.refused_prefix: str | None = None

    def refuse_tags_starting_with(self, prefix: str) -> None:
        self.refused_prefix = prefix

    def api(self) -> RegistryApi:
        return RegistryApi(self.upstream)

    def upstream_request(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        """The path a request for `path` is forwarded to, and headers answered in place of upstream's (lowercase
        names): the same path and none, unless a subclass lies."""
        return path, {}

    def __enter__(self) -> RefusingProxy:
        proxy = self
        client = httpx.Client(base_url=f"http://{self.upstream}", timeout=300)

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                tag = self.path.rsplit("/manifests/", 1)[-1] if "/manifests/" in self.path else ""
                if self.command == "PUT" and proxy.refused_prefix and tag.startswith(proxy.refused_prefix):
                    payload = b'{"errors":[{"code":"DENIED","message":"push refused by policy"}]}'
                    self.send_response(403)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("content-length", "connection")}
                path, claimed = proxy.upstream_request(self.command, self.path)
                response = client.request(self.command, path, content=body, headers=headers)
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding",
                                           *claimed):
                        self.send_header(key, value)
                for key, value in claimed.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(response.content)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = forward

        host, port = self.address.split(":")
        self.server = http.server.ThreadingHTTPServer((host, int(port)), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()


class LyingProxy(RefusingProxy):
    """Forwards to a registry, but answers chosen reads (manifests or blobs, by digest) with what the registry holds
    under another digest, while its Docker-Content-Digest header claims the digest asked for: content that does not
    hash to its name, which only a client checking the bytes notices (the registry itself would refuse to store it)."""

    def __init__(self, upstream: str):
        super().__init__(upstream)
        self.lies: dict[str, str] = {}

    def answer_with(self, path: str, other: str) -> None:
        """GET (and HEAD) of `path`, e.g. /v2/<repository>/blobs/<digest>, answer what upstream answers for `other`."""
        self.lies[path] = other

    def upstream_request(self, method: str, path: str) -> tuple[str, dict[str, str]]:
        if method in ("GET", "HEAD") and path in self.lies:
            return self.lies[path], {"docker-content-digest": path.rsplit("/", 1)[-1]}
        return path, {}
