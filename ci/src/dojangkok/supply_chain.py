"""Signing pushed images and verifying them before a roll-out, with cosign run on the engine from its released image.

Publish attaches two attestations to every platform image of a service, as OCI referrers in its repository: its
SBOM (SPDX JSON, `--type spdxjson`) and its build provenance (SLSA v1, `--type slsaprovenance1`); then it signs the
multi-platform index and every image in it (`cosign sign --recursive`). Only then does `latest` move.

Before a deploy touches a cloud, `verify` checks each image it is about to roll out and names the check that fails:

- signature: signed with the key pair's private key (an image pushed under the tag by anyone else is not);
- provenance: a signed SLSA statement about this very digest, naming the commit the deploy expects;
- sbom: a signed SBOM attestation for every platform image.

The key pair is cosign's (`cosign generate-key-pair`), held as Dagger secrets, and signs without a transparency log
(`--tlog-upload=false`): nothing leaves the registry. Keyless signing in GitHub Actions: docs/supply-chain.md.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from dataclasses import dataclass
from typing import Annotated

import dagger
from dagger import Doc, field, object_type

from . import oci
from . import provenance as slsa
from .catalogue import Service
from .credentials import Access
from .environments import Settings

COSIGN_IMAGE = "ghcr.io/sigstore/cosign/cosign:v3.1.3"
CHECKS = tuple(slsa.CHECKS)
PREDICATE_TYPES = {"sbom": "spdxjson", "provenance": "slsaprovenance1"}  # cosign's --type of each attestation
_DIR = "/cosign"
_KEY, _PUBLIC_KEY, _PREDICATE, _OUT = f"{_DIR}/cosign.key", f"{_DIR}/cosign.pub", "/in/predicate.json", "/out/stdout"
_OFFLINE_SIGN = ["--tlog-upload=false", "--use-signing-config=false"]
_OFFLINE_VERIFY = ["--insecure-ignore-tlog"]


class VerifyRefused(RuntimeError):
    """An image failed a check before roll-out; the message names the image and the check."""

    def __init__(self, reference: str, check: str, detail: str):
        self.reference, self.check, self.detail = reference, check, detail
        super().__init__(f"{reference}: the {check} check failed ({detail}); nothing was rolled out")


@object_type
class Signing:
    """How publish signs and deploy verifies: a cosign key pair, or keyless (Sigstore, the CI run's OIDC identity)."""

    public_key: Annotated[dagger.File | None, Doc("cosign.pub (key pair)")] = field(default=None)
    key: Annotated[dagger.Secret | None, Doc("cosign.key, encrypted with the password")] = field(default=None)
    password: Annotated[dagger.Secret | None, Doc("The private key's password")] = field(default=None)
    oidc_request_url: Annotated[dagger.Secret | None, Doc("Keyless: where cosign asks for OIDC tokens")] = field(
        default=None)
    oidc_request_token: Annotated[dagger.Secret | None, Doc("Keyless: the token that lets it ask")] = field(
        default=None)
    identity: Annotated[str, Doc("Keyless: regexp of the signer identity verify accepts")] = field(default="")
    issuer: Annotated[str, Doc("Keyless: the OIDC issuer of that identity")] = field(default="")
    repository: Annotated[str, Doc("Source repository URL the provenance names")] = field(default="")

    @property
    def keyless(self) -> bool:
        return self.public_key is None

    @property
    def can_sign(self) -> bool:
        if self.keyless:
            return self.oidc_request_url is not None and self.oidc_request_token is not None
        return self.key is not None and self.password is not None

    def sign_flags(self) -> list[str]:
        """Key pair: no transparency log, nothing leaves the registry. Keyless: Fulcio and Rekor (the public good
        instance, cosign's default signing config)."""
        return [] if self.keyless else ["--key", _KEY, *_OFFLINE_SIGN]

    def verify_flags(self) -> list[str]:
        """What a signature must match: the public key, or the pinned identity and issuer of a keyless one."""
        if self.keyless:
            return ["--certificate-identity-regexp", self.identity, "--certificate-oidc-issuer", self.issuer]
        return ["--key", _PUBLIC_KEY, *_OFFLINE_VERIFY]


def check_signing_inputs(signing: Signing) -> Signing:
    """`signing` if it is complete enough to verify with (and, given a private part, to sign); ValueError else."""
    if signing.keyless:
        if not signing.identity or not signing.issuer:
            raise ValueError("keyless signing needs --identity and --issuer: verify must pin who may sign")
        if (signing.oidc_request_url is None) != (signing.oidc_request_token is None):
            raise ValueError("--oidc-request-url and --oidc-request-token go together")
    elif (signing.key is None) != (signing.password is None):
        raise ValueError("with-signing --key and --password go together")
    return signing


@dataclass(frozen=True)
class Registry:
    """One registry as the cosign container reaches it, and as the function reads it (its API)."""

    address: str  # host[:port] in the references cosign is given
    api: oci.Registry
    binding: dagger.Service | None = None  # a local registry, bound under the address's host
    docker_config: dagger.Secret | None = None  # its login, as cosign reads logins
    insecure: bool = False  # plain HTTP

    @classmethod
    async def local(cls, endpoint: dagger.Service) -> Registry:
        """A registry on the host, reached through its with-registry endpoint (plain HTTP)."""
        where = await (await endpoint.start()).endpoint()
        return cls(f"registry:{where.rsplit(':', 1)[1]}", oci.Registry(f"http://{where}"), endpoint, insecure=True)

    @classmethod
    async def remote(cls, host: str, login: tuple[str, dagger.Secret] | None) -> Registry:
        """ECR or Artifact Registry over HTTPS, with the registry login publish uses."""
        if login is None:
            return cls(host, oci.Registry(f"https://{host}"))
        user, password = login[0], await login[1].plaintext()  # read here only to hand it to cosign as a secret
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        config = dagger.dag.set_secret(f"cosign-login-{host}", json.dumps({"auths": {host: {"auth": auth}}}))
        return cls(host, oci.Registry(f"https://{host}", (user, password)), docker_config=config)

    def reference(self, repository: str, digest: str) -> str:
        """``address/path@digest`` of a repository named ``registry/path`` by the references publish returns."""
        return f"{self.address}/{repository.split('/', 1)[1]}@{digest}"

    def platform_images(self, repository: str, digest: str) -> dict[str, str]:
        """Platform -> image digest of an index (its attestation-free entries), or the one image's platform."""
        path = repository.split("/", 1)[1]
        body, media_type = oci.read_manifest(self.api, path, digest)
        if media_type not in oci.INDEX_TYPES:
            return {"": digest}
        return {f"{m['platform']['os']}/{m['platform']['architecture']}": m["digest"]
                for m in json.loads(body).get("manifests", []) if (m.get("platform") or {}).get("os") != "unknown"}


async def registry_of(svc: Service, settings: Settings, access: Access, local: dagger.Service | None) -> Registry:
    """How cosign and this function reach the registry of `svc`'s images: a registry override through its
    with-registry endpoint, otherwise the cloud registry over HTTPS with the login publish uses."""
    check_reachable(access.registry, local)
    if access.registry:
        return await Registry.local(local)
    host = settings.image_repository(svc).split("/", 1)[0]
    return await Registry.remote(host, await access.registry_login(svc.registry, settings.aws.region))


async def verify_all(signing: Signing, images: list[tuple[Registry, str, str]], commit: str) -> None:
    """Every check on each (registry, repository, digest) at once; VerifyRefused of the first image that fails."""
    await asyncio.gather(*(verify(signing, registry, repository, digest, commit)
                           for registry, repository, digest in images))


def check_can_sign(signing: Signing, commit: str, registry_override: str, local: dagger.Service | None) -> None:
    """Refuse, before anything is built, a signed publish that could not complete."""
    if not signing.can_sign:
        raise ValueError("publishing signed images needs with-signing --key and --password, or with-keyless-signing "
                         "--oidc-request-url and --oidc-request-token")
    if not slsa.FULL_COMMIT.fullmatch(commit.lower()):
        raise ValueError(f"signed images need --commit as the full 40-hex SHA (their provenance names it), "
                         f"got {commit!r}")
    check_reachable(registry_override, local)


def check_reachable(registry_override: str, local: dagger.Service | None) -> None:
    if registry_override and local is None:
        raise ValueError(f"{registry_override} is read and written from the functions here (signing, verifying, "
                         "pushing by digest, merging): it needs with-registry --endpoint tcp://HOST:PORT, how they "
                         "reach it")


async def tagged(registry: Registry, repository: str, tag: str) -> str:
    """The digest `repository:tag` points at now, or "" when there is no such tag."""
    try:
        body, _ = await asyncio.to_thread(oci.read_manifest, registry.api, repository.split("/", 1)[1], tag)
    except oci.CopyError as failure:
        if ": 404 " in str(failure):
            return ""
        raise
    return oci.digest_of(body)


def _cosign(signing: Signing, registry: Registry, *, private: bool) -> dagger.Container:
    # 0444: the released image runs as a non-root user; the files exist only inside this tool container.
    ctr = (
        dagger.dag.container().from_(COSIGN_IMAGE)
        .with_env_variable("DOCKER_CONFIG", f"{_DIR}/docker")
        .with_env_variable("COSIGN_YES", "true")
        .with_directory("/out", dagger.dag.directory())
        # Signing and verifying read the registry as it is now, never a cached answer.
        .with_env_variable("DOJANGKOK_AT", str(time.time_ns()))
    )
    if signing.public_key is not None:
        ctr = ctr.with_mounted_file(_PUBLIC_KEY, signing.public_key)
    if private and signing.keyless:  # cosign asks GitHub for a fresh token when it signs (they live minutes)
        ctr = ctr.with_secret_variable("ACTIONS_ID_TOKEN_REQUEST_URL", signing.oidc_request_url).with_secret_variable(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN", signing.oidc_request_token)
    elif private:
        ctr = ctr.with_mounted_secret(_KEY, signing.key, mode=0o444).with_secret_variable(
            "COSIGN_PASSWORD", signing.password)
    if registry.binding is not None:
        ctr = ctr.with_service_binding(registry.address.split(":")[0], registry.binding)
    if registry.docker_config is not None:
        ctr = ctr.with_mounted_secret(f"{_DIR}/docker/config.json", registry.docker_config, mode=0o444)
    return ctr


def _flags(registry: Registry) -> list[str]:
    return ["--allow-http-registry"] if registry.insecure else []


async def sign(signing: Signing, registry: Registry, repository: str, digest: str,
               attestations: dict[str, tuple[dagger.File, dict]]) -> list[str]:
    """Attest every platform image (platform -> its SBOM file and provenance predicate), then sign the index
    and its images; the digests of the referrers now attached to the index's images."""
    images = await asyncio.to_thread(registry.platform_images, repository, digest)
    missing = set(images) - set(attestations) - {""}
    if missing:
        raise ValueError(f"{repository}@{digest}: no SBOM or provenance for {', '.join(sorted(missing))}")

    async def attest_both(platform: str, image: str) -> None:
        sbom_file, predicate = attestations[platform or next(iter(attestations))]
        reference = registry.reference(repository, image)
        # One after the other: each rewrites the image's list of referrers in a registry without their API.
        await attest(signing, registry, reference, "sbom", sbom_file)
        await attest(signing, registry, reference, "provenance", dagger.dag.file("provenance.json",
                                                                                 json.dumps(predicate)))

    await asyncio.gather(*(attest_both(p, d) for p, d in images.items()))
    await sign_image(signing, registry, registry.reference(repository, digest))
    return await asyncio.to_thread(_referrers, registry, repository, list(images.values()))


async def attest(signing: Signing, registry: Registry, reference: str, kind: str, predicate: dagger.File) -> None:
    """Attach one signed attestation (`kind` of PREDICATE_TYPES) to the image `reference`."""
    await _cosign(signing, registry, private=True).with_mounted_file(_PREDICATE, predicate).with_exec(
        ["attest", *signing.sign_flags(), "--type", PREDICATE_TYPES[kind], "--predicate", _PREDICATE,
         *_flags(registry), reference], use_entrypoint=True).sync()


async def sign_image(signing: Signing, registry: Registry, reference: str, *, recursive: bool = True) -> None:
    """Sign the image `reference`, and (`recursive`) every image in it when it is an index."""
    await _cosign(signing, registry, private=True).with_exec(
        ["sign", *signing.sign_flags(), *(["--recursive"] if recursive else []), *_flags(registry), reference],
        use_entrypoint=True).sync()


def _referrers(registry: Registry, repository: str, digests: list[str]) -> list[str]:
    path = repository.split("/", 1)[1]
    return [r["digest"] for d in digests for r in oci.referrers(registry.api, path, d)]


async def verify(signing: Signing, registry: Registry, repository: str, digest: str, commit: str,
                 platform: str = "") -> None:
    """Every check of `CHECKS` on one pushed image (an index, or one `platform`'s image); VerifyRefused naming the
    first that fails. Each platform image's provenance must name its platform."""
    shown = f"{repository}@{digest}"
    base = _cosign(signing, registry, private=False)

    async def run(args: list[str], reference: str) -> tuple[int, str, str]:
        done = base.with_exec(["verify" if not args else "verify-attestation", *args, *signing.verify_flags(),
                               *_flags(registry), reference],
                              use_entrypoint=True, redirect_stdout=_OUT, expect=dagger.ReturnType.ANY)
        code = await done.exit_code()
        out = await done.file(_OUT).contents() if code == 0 and args else ""
        return code, out, await done.stderr()

    code, _, error = await run([], registry.reference(repository, digest))
    if code:
        raise VerifyRefused(shown, "signature", _last_line(error) or "no signature made with this key")
    try:
        images = await asyncio.to_thread(registry.platform_images, repository, digest)
    except oci.CopyError as failure:
        raise VerifyRefused(shown, "signature", str(failure)) from failure
    for entry, image in images.items():
        at = f"{shown} ({entry})" if entry else shown
        code, out, error = await run(["--type", PREDICATE_TYPES["provenance"]], registry.reference(repository, image))
        if code:
            raise VerifyRefused(at, "provenance", _last_line(error) or "no provenance signed with this key")
        try:
            statements = [line for line in out.splitlines() if line.strip()]
            if not statements:
                raise slsa.ProvenanceError("cosign verified no provenance statement")
            for line in statements:
                envelope = json.loads(line)
                slsa.check(json.loads(base64.b64decode(envelope["payload"])), digest=image, commit=commit,
                           platform=entry or platform)
        except (slsa.ProvenanceError, ValueError, KeyError) as failure:
            raise VerifyRefused(at, "provenance", str(failure)) from failure
        code, _, error = await run(["--type", PREDICATE_TYPES["sbom"]], registry.reference(repository, image))
        if code:
            raise VerifyRefused(at, "sbom", _last_line(error) or "no SBOM signed with this key")


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1].removeprefix("Error: ").removeprefix("error during command execution: ") if lines else ""
