"""A release built on several engines: each platform's images pushed by digest where they were built (`publish
--by-digest`), then merged into one index per service under the release's tags (`merge`).

A native runner per platform builds faster than one engine emulating the other (docs/scale-out.md). The merge keeps
the single-engine publish's guarantees: every image is checked before anything is written (it is in the service's
repository, it is one platform's image of the platform it is given as, its label names the release's commit, and
with signing it passes every supply-chain check), the unique tag lands before `latest`, and a refusal names the
service, the platform and the check.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass

from . import oci, supply_chain
from .build import Published, PushedByDigest
from .catalogue import Service, select, service
from .configuration import Configuration
from .environments import Settings
from .report import OutputFormat, Section, progress, render
from .tags import LATEST

IMAGE = re.compile(r"(?P<service>[a-z0-9-]+)/(?P<platform>[a-z0-9]+/[a-z0-9]+)@(?P<digest>sha256:[0-9a-f]{64})")


class MergeRefused(ValueError):
    """A per-platform image that cannot be part of the release; names the service, platform and check."""


@dataclass(frozen=True)
class PlatformImage:
    """One service's image for one platform, pushed by digest into the service's repository."""

    service: Service
    platform: str  # os/arch, e.g. linux/arm64
    digest: str

    @property
    def argument(self) -> str:
        """How `publish --by-digest` prints it and `merge --image` takes it: SERVICE/OS/ARCH@DIGEST."""
        return f"{self.service.name}/{self.platform}@{self.digest}"


@dataclass(frozen=True)
class Merge:
    """A release of per-platform images pushed by digest, made as a Build publishes one (`check_publish`,
    `push_release`, `move_latest`): `merge` and `deploy --image` take it where they would build."""

    images: list[PlatformImage]  # parsed: every platform of each service
    config: Configuration

    def services(self) -> list[Service]:
        return list(dict.fromkeys(i.service for i in self.images))

    def check_publish(self, commit: str) -> None:
        """What the merge needs declared: push credentials, this function's way to the registry, signing's."""
        config = self.config
        config.access.check_push({s.registry for s in self.services()})
        supply_chain.check_reachable(config.registry, config.registry_endpoint)  # read and written from here
        if config.signing is not None:
            supply_chain.check_can_sign(config.signing, commit, config.registry, config.registry_endpoint)

    async def push_release(self, settings: Settings, tag: str, commit: str, dry_run: bool = False, *,
                           latest: bool = True) -> list[Published]:
        """Every image checked (`entry`, and with signing every supply-chain check), then per service its index
        pushed, signed and tagged `tag`, then (`latest`) `latest` of every service: nothing is written before every
        check passed. Never a dry run: there is nothing to build."""
        config = self.config

        async def check(svc: Service) -> tuple[supply_chain.Registry, str, list[dict]]:
            registry = await self._registry(svc, settings)
            repository = settings.image_repository(svc, config.registry)
            given = [i for i in self.images if i.service == svc]
            path = oci.Location.of(repository).repository
            entries = [await asyncio.to_thread(entry, registry.api, path, image, commit) for image in given]
            for image in given if config.signing is not None else ():
                try:
                    await supply_chain.verify(config.signing, registry, repository, image.digest, commit,
                                              image.platform)
                except supply_chain.VerifyRefused as failure:
                    raise MergeRefused(f"{svc.name} {image.platform} ({failure.reference}): the {failure.check} "
                                       f"check failed ({failure.detail}); nothing was tagged") from failure
            return registry, repository, entries

        checked = await asyncio.gather(*(check(svc) for svc in self.services()))

        async def write(svc: Service, registry: supply_chain.Registry, repository: str, entries: list[dict]
                        ) -> Published:
            location, body = oci.Location.of(repository), index(entries)
            digest = await asyncio.to_thread(oci.write_manifest, registry.api, location, oci.digest_of(body), body,
                                             oci.INDEX_TYPES[0])
            if config.signing is not None:
                progress(f"signing {repository}@{digest}")
                await supply_chain.sign_image(config.signing, registry, registry.reference(repository, digest),
                                              recursive=False)  # its images were signed where they were built
            await _tag(registry, location, digest, tag)
            platforms = [f"{e['platform']['os']}/{e['platform']['architecture']}" for e in entries]
            return Published(service=svc.name, reference=f"{repository}:{tag}", digest=digest, platforms=platforms)

        published = list(await asyncio.gather(*(write(svc, *found)
                                                for svc, found in zip(self.services(), checked, strict=True))))
        if latest:
            await self.move_latest(settings, published, commit)
        return published

    async def move_latest(self, settings: Settings, results: list[Published], commit: str) -> None:
        """Point each merged service's ``latest`` at its index."""
        async def point(published: Published) -> None:
            registry = await self._registry(service(published.service), settings)
            await _tag(registry, oci.Location.of(published.repository), published.digest, LATEST)

        await asyncio.gather(*(point(p) for p in results))

    async def _registry(self, svc: Service, settings: Settings) -> supply_chain.Registry:
        return await supply_chain.registry_of(svc, settings, self.config.access, self.config.registry_endpoint)


async def _tag(registry: supply_chain.Registry, location: oci.Location, digest: str, name: str) -> None:
    progress(f"pointing {location.registry}/{location.repository}:{name} at {digest}")
    await asyncio.to_thread(oci.tag, registry.api, location, digest, name)


def by_digest_report(pushed: list[PushedByDigest], fmt: OutputFormat | str, dry_run: bool = False) -> str:
    """What `publish --by-digest` pushed, with the `--image` values merge takes."""
    arguments = [PlatformImage(service(p.service), p.platform, p.digest).argument for p in pushed]
    rows = [{"service": p.service, "platform": p.platform, "repository": p.repository, "digest": p.digest,
             "image": argument, "attestations": list(p.attestations)}
            for p, argument in zip(pushed, arguments, strict=True)]
    sections = [
        Section(header=("service", "platform", "digest"), rows=[(p.service, p.platform, p.digest) for p in pushed]),
        Section(title="One release of them, with every platform's: merge --image …", header=("--image",),
                rows=[(a,) for a in arguments]),
    ]
    title = ("Publish by digest (dry run: nothing was pushed)" if dry_run
             else "Pushed by digest, under no tag (merge tags the release)")
    return render(title, sections, rows, fmt)


def parse(values: list[str]) -> list[PlatformImage]:
    """`merge --image` values, each service with every platform of the catalogue once; catalogue order."""
    given: dict[tuple[str, str], PlatformImage] = {}
    for value in values:
        match = IMAGE.fullmatch(value.strip())
        if not match:
            raise MergeRefused(f"--image {value!r}: expected SERVICE/OS/ARCH@sha256:<64 hex>, e.g. "
                               f"ai-server/linux/arm64@sha256:…, as publish --by-digest prints it")
        svc, platform = service(match["service"]), match["platform"]
        if platform not in svc.platforms:
            raise MergeRefused(f"--image {value}: {svc.name} ships {', '.join(svc.platforms)}, not {platform}")
        if (svc.name, platform) in given:
            raise MergeRefused(f"--image {value}: {svc.name} {platform} is given twice "
                               f"(also {given[svc.name, platform].digest})")
        given[svc.name, platform] = PlatformImage(svc, platform, match["digest"])
    if not given:
        raise MergeRefused("merge needs --image SERVICE/OS/ARCH@DIGEST for every platform of each service")
    services = select(sorted({name for name, _ in given}))
    for svc in services:
        for platform in svc.platforms:
            if (svc.name, platform) not in given:
                raise MergeRefused(f"{svc.name} {platform}: no --image given; {svc.name} ships "
                                   f"{', '.join(svc.platforms)}: publish --by-digest --platform {platform} first")
    return [given[svc.name, p] for svc in services for p in svc.platforms]


def entry(registry: oci.Registry, repository: str, image: PlatformImage, commit: str) -> dict:
    """The index entry of `image` (a descriptor with its platform) once it passes the merge's checks on the
    registry: there, one platform's image, of the platform it is given as, labelled with `commit`."""
    shown = f"{image.service.name} {image.platform} ({repository}@{image.digest})"
    try:
        body, media_type = oci.read_manifest(registry, repository, image.digest)
    except oci.CopyError as failure:
        raise MergeRefused(f"{shown}: not in the repository ({failure})") from failure
    if oci.digest_of(body) != image.digest:
        raise MergeRefused(f"{shown}: the registry answered bytes of another digest")
    if media_type in oci.INDEX_TYPES:
        raise MergeRefused(f"{shown}: an index, not one platform's image; give the digests publish --by-digest "
                           "printed")
    config = oci.image_config(registry, repository, json.loads(body), image.digest)
    built_for = f"{config.get('os', '')}/{config.get('architecture', '')}"
    if built_for != image.platform:
        raise MergeRefused(f"{shown}: the platform check failed: given as {image.platform}, the image is built for "
                           f"{built_for}")
    label = ((config.get("config") or {}).get("Labels") or {}).get(oci.REVISION_LABEL, "")
    if not label or not label.startswith(commit.lower()):
        raise MergeRefused(f"{shown}: the commit check failed: its {oci.REVISION_LABEL} label names "
                           f"{label or 'no commit'}, the release is of {commit}")
    platform = {"os": config["os"], "architecture": config["architecture"]}
    if config.get("variant"):
        platform["variant"] = config["variant"]
    return {"mediaType": media_type, "digest": image.digest, "size": len(body), "platform": platform}


def index(entries: list[dict]) -> bytes:
    """The OCI image index of one service's platform images, in the catalogue's platform order."""
    return json.dumps({"schemaVersion": 2, "mediaType": oci.INDEX_TYPES[0], "manifests": entries},
                      separators=(",", ":")).encode()
