"""`dagger call build`: every service image for every platform, and `.publish()` of them with two tags."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import dagger
from dagger import Doc, field, function, object_type

from . import catalogue
from .catalogue import Service
from .credentials import Credentials, registry_login
from .environments import Settings
from .tags import LATEST


class PublishError(RuntimeError):
    """A push failed or the registry answered with something else than what was pushed."""


@object_type
class Image:
    """One service built for one platform."""

    service: Annotated[str, Doc("Service name from the catalogue")] = field()
    platform: Annotated[dagger.Platform, Doc("OCI platform, e.g. linux/arm64")] = field()
    container: Annotated[dagger.Container, Doc("The runtime image")] = field()


@object_type
class Published:
    """One service pushed under its unique tag and `latest`, both on the same multi-platform index."""

    service: str = field()
    reference: Annotated[str, Doc("repository:unique-tag")] = field()
    digest: Annotated[str, Doc("sha256 digest of the index both tags point at")] = field()
    platforms: list[str] = field()

    @property
    def pinned(self) -> str:
        """The reference by digest, what deploys use."""
        return f"{self.reference.rsplit(':', 1)[0]}@{self.digest}"


@object_type
class Build:
    """Every selected service built for its platforms, not yet pushed."""

    images: Annotated[list[Image], Doc("One entry per service and platform")] = field()

    def services(self) -> list[str]:
        return list(dict.fromkeys(i.service for i in self.images))

    def variants(self, service: str) -> list[dagger.Container]:
        return [i.container for i in self.images if i.service == service]

    @function
    def container(
        self,
        service: Annotated[str, Doc("Service name, e.g. frontend")],
        platform: Annotated[str, Doc("Platform; default: the service's first")] = "",
    ) -> dagger.Container:
        """One built image, to run or inspect (e.g. `container --service backend terminal`)."""
        catalogue.service(service)
        for image in self.images:
            if image.service == service and (not platform or image.platform == platform):
                return image.container
        raise ValueError(f"{service} was not built for {platform or 'any platform'} in this run")

    @function
    async def sync(self) -> Build:
        """Build every image now (all services and platforms at once); fails on the first broken build."""
        async with asyncio.TaskGroup() as tg:
            for image in self.images:
                tg.create_task(image.container.sync())
        return self

    @function
    def export(self) -> dagger.Directory:
        """OCI tarballs, one per service (`dagger call build export export --path ./images`)."""
        out = dagger.dag.directory()
        for name in self.services():
            out = out.with_file(
                f"{name}.tar", dagger.dag.container().as_tarball(platform_variants=self.variants(name))
            )
        return out

    async def publish_to(
        self,
        settings: Settings,
        unique_tag: str,
        credentials: Credentials,
        registry_override: str = "",
        dry_run: bool = False,
    ) -> list[Published]:
        """Push every service under ``unique_tag``; only when all of them landed, move ``latest``.

        Everything is built before the first push, so a broken build never leaves half a release behind.
        """
        services = [catalogue.service(n) for n in self.services()]
        credentials.check({s.registry for s in services}, anonymous_ok=bool(registry_override))
        await self.sync()
        kinds = {s.registry for s in services}
        logins = {kind: await registry_login(credentials, kind, settings.aws.region) for kind in kinds}

        async def push(svc: Service, tag: str) -> str:
            repository = settings.image_repository(svc, registry_override)
            ctr = dagger.dag.container()
            login = logins[svc.registry]
            if login is not None:
                ctr = ctr.with_registry_auth(repository.split("/", 1)[0], login[0], login[1])
            if dry_run:
                return f"{repository}:{tag}@sha256:{'0' * 64}"
            return await ctr.publish(f"{repository}:{tag}", platform_variants=self.variants(svc.name))

        unique = await asyncio.gather(*(push(s, unique_tag) for s in services))
        results = []
        for svc, ref in zip(services, unique, strict=True):
            name, _, digest = ref.partition("@")
            if not digest.startswith("sha256:"):
                raise PublishError(f"{svc.name}: the registry returned {ref!r} without a digest; latest not moved")
            platforms = [str(i.platform) for i in self.images if i.service == svc.name]
            results.append(Published(service=svc.name, reference=name, digest=digest, platforms=platforms))

        latest = await asyncio.gather(*(push(s, LATEST) for s in services))
        for published, ref in zip(results, latest, strict=True):
            if ref.partition("@")[2] != published.digest:
                raise PublishError(
                    f"{published.service}: latest landed as {ref} but {published.reference} is {published.digest}; "
                    "the registry rewrote the index (check for a proxy or a registry that converts manifests)"
                )
        return results


def publish_report(results: list[Published], fmt: str) -> str:
    rows = [
        {"service": r.service, "reference": r.reference, "digest": r.digest, "platforms": r.platforms, "latest": True}
        for r in results
    ]
    if fmt == "json":
        return json.dumps(rows, indent=2)
    width = max([len(r.reference) for r in results] + [9])
    lines = [f"{'service':10} {'reference':{width}} {'digest':71} platforms"]
    lines += [f"{r.service:10} {r.reference:{width}} {r.digest:71} {','.join(r.platforms)}" for r in results]
    return "\n".join(lines)
