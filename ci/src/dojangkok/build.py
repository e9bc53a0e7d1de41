"""`dagger call build`: every service image for every platform, and `… publish` of them under two tags."""

import asyncio
import dataclasses
import hashlib
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import dagger
from dagger import Doc, field, function, object_type

from . import catalogue, images, oci, provenance, sbom, supply_chain
from .arguments import BranchArg, CommitArg, EnvArg, FormatArg, VersionArg
from .catalogue import Service
from .configuration import Configuration
from .environments import Environment, Settings, load, parse_overrides
from .plan import check_inputs
from .report import OutputFormat, Section, progress, render
from .tags import LATEST


class PublishError(RuntimeError):
    """A push failed or the registry answered with something else than what was pushed."""


@object_type
class Image:
    """One service built for one platform."""

    service: Annotated[str, Doc("Service name from the catalogue")] = field()
    platform: Annotated[dagger.Platform, Doc("OCI platform, e.g. linux/arm64")] = field()
    container: Annotated[dagger.Container, Doc("The runtime image")] = field()
    dockerfile: Annotated[dagger.File | None, Doc("The Dockerfile it was built from (for its provenance)")] = field(
        default=None)


@dataclass(frozen=True)
class Published:
    """One service pushed under its unique tag and `latest`, both on the same multi-platform index."""

    service: str
    reference: str  # repository:unique-tag
    digest: str  # sha256 digest of the index both tags point at
    platforms: list[str]
    attestations: tuple[str, ...] = ()  # digests of its signed SBOM and provenance referrers

    @property
    def repository(self) -> str:
        return self.reference.rsplit(":", 1)[0]

    @property
    def pinned(self) -> str:
        """The reference by digest, what deploys use."""
        return f"{self.repository}@{self.digest}"


@dataclass(frozen=True)
class PushedByDigest:
    """One service's image for one platform, pushed into its repository under no tag (`merge` tags a release)."""

    service: str
    platform: str
    repository: str
    digest: str
    attestations: tuple[str, ...] = ()  # digests of its signed SBOM and provenance referrers


def labelled(container: dagger.Container, commit: str) -> dagger.Container:
    """The image labelled with the commit it is built from (OCI `revision`, as docker/metadata-action does): a
    config change only, so no layer is rebuilt, and one commit's image is findable by its label."""
    return container.with_label(oci.REVISION_LABEL, commit.lower())


@object_type
class Build:
    """Every selected service built for its platforms, not yet pushed."""

    images: Annotated[list[Image], Doc("One entry per service and platform")] = field()
    settings_file: dagger.File = dataclasses.field()  # deploy/environments.toml of the source
    # The module's configuration, as Dojangkok held it when it built these: kept, not listed among the functions.
    config: Configuration = dataclasses.field(default_factory=Configuration)

    def services(self) -> list[str]:
        return list(dict.fromkeys(i.service for i in self.images))

    def variants(self, service: str, commit: str = "") -> list[dagger.Container]:
        """The service's platform images; with a commit, `labelled` with it."""
        containers = [i.container for i in self.images if i.service == service]
        return [labelled(c, commit) for c in containers] if commit else containers

    @function
    def container(
        self,
        service: Annotated[str, Doc("Service name, e.g. frontend")],
        platform: Annotated[str, Doc("Platform, e.g. linux/arm64; default: the service's first")] = "",
    ) -> dagger.Container:
        """One built image, to run, inspect or export (`container --service backend terminal`)."""
        catalogue.service(service)
        for image in self.images:
            if image.service == service and (not platform or image.platform == platform):
                return image.container
        raise ValueError(f"{service} was not built for {platform or 'any platform'} in this run")

    async def sync(self) -> "Build":
        """Build every image now, all services and platforms at once; raises the first broken build's error."""
        async with asyncio.TaskGroup() as tg:
            for image in self.images:
                tg.create_task(image.container.sync())
        return self

    @function
    def summary(self) -> str:
        """What was built: a row per service and platform."""
        rows = [(i.service, str(i.platform)) for i in self.images]
        return render("Built", [Section(header=("service", "platform"), rows=rows)], rows, OutputFormat.text)

    @function
    def export(self) -> dagger.Directory:
        """OCI tarballs, one per service with all its platforms (`build export export --path ./images`)."""
        out = dagger.dag.directory()
        for name in self.services():
            out = out.with_file(
                f"{name}.tar", dagger.dag.container().as_tarball(platform_variants=self.variants(name))
            )
        return out

    @function
    def sbom(self) -> dagger.Directory:
        """SPDX JSON SBOMs scanned by syft, one per service and platform (`build sbom export --path ./sbom`)."""
        out = dagger.dag.directory()
        for image in self.images:
            name = sbom.file_name(image.service, str(image.platform))
            out = out.with_file(name, sbom.scan(image.container, image.service))
        return out

    @function(cache="never")
    async def publish(
        self,
        env: EnvArg,
        branch: BranchArg = "",
        version: VersionArg = "",
        commit: CommitArg = "",
        dry_run: Annotated[bool, Doc("Build and authenticate, but push nothing")] = False,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Push each image under its unique tag and, only once every push landed, move latest to the same index."""
        results = await self.publish_all(env, branch, version, commit, dry_run)
        return publish_report(results, format, dry_run)

    async def publish_all(
        self, env: Environment, branch: str, version: str, commit: str, dry_run: bool = False,
    ) -> list[Published]:
        """publish's whole job: `checked`, then `push_release` with latest moved."""
        settings, tag = await self.checked(env, branch, version, commit)
        return await self.push_release(settings, tag, commit, dry_run)

    async def publish_by_digest(
        self, env: Environment, branch: str, version: str, commit: str, dry_run: bool = False,
    ) -> list[PushedByDigest]:
        """`publish --by-digest`'s whole job: `checked` (the tag is merge's), then `push_by_digest`."""
        if not commit:
            raise ValueError("publish --by-digest needs --commit: merge checks that every platform's image is "
                             "labelled with the release's commit")
        settings, _ = await self.checked(env, branch, version, commit)
        # This function pushes, not the engine: it needs its own way to a registry on the host.
        supply_chain.check_reachable(self.config.registry, self.config.registry_endpoint)
        return await self.push_by_digest(settings, commit, dry_run)

    async def checked(self, env: Environment, branch: str, version: str, commit: str) -> tuple[Settings, str]:
        """Everything a user can get wrong, refused before the first build step; the settings and unique tag."""
        config = self.config
        which, tag, _, _ = check_inputs(
            env, branch=branch, version=version, commit=commit, services=self.services(),
            registry_override=config.registry,
        )
        self.check_publish(commit)
        settings = load(which, text=await self.settings_file.contents(),
                        environ=parse_overrides(which, config.override))
        return settings, tag

    def check_publish(self, commit: str) -> None:
        """What publishing these images needs declared: the registries' credentials, and what signing needs."""
        config = self.config
        config.access.check_push({catalogue.service(n).registry for n in self.services()})
        if config.signing is not None:
            supply_chain.check_can_sign(config.signing, commit, config.registry, config.registry_endpoint)

    async def push_release(self, settings: Settings, tag: str, commit: str, dry_run: bool = False, *,
                           latest: bool = True) -> list[Published]:
        """Build every image, push the unique tags, check their digests, sign them, then (`latest`) move ``latest``.

        The inputs are checked already (publish_all, deploy). Everything is built before the first push, so a broken
        build or a refused push never leaves half a release behind. deploy passes latest=False and moves it with
        `move_latest` once the release runs.
        """
        config = self.config
        services = [catalogue.service(n) for n in self.services()]
        progress(f"building {len(self.images)} images: " + ", ".join(f"{i.service} {i.platform}" for i in self.images))
        started = datetime.now(UTC)
        await self.sync()  # built already by `build`: cache hits
        finished = datetime.now(UTC)
        push = await self._pusher(settings, services, commit, dry_run)

        unique = await asyncio.gather(*(push(s, tag) for s in services))
        results = []
        for svc, ref in zip(services, unique, strict=True):
            name, _, digest = ref.partition("@")
            if not digest.startswith("sha256:"):
                raise PublishError(f"{svc.name}: the registry returned {ref!r} without a digest; latest not moved")
            platforms = [str(i.platform) for i in self.images if i.service == svc.name]
            results.append(Published(service=svc.name, reference=name, digest=digest, platforms=platforms))
        if config.signing is not None and not dry_run:
            registries = [await supply_chain.registry_of(svc, settings, config.access, config.registry_endpoint)
                          for svc in services]
            signed = await asyncio.gather(*(
                self._sign([i for i in self.images if i.service == p.service], registry, p.repository, p.digest,
                           commit, (started, finished))
                for registry, p in zip(registries, results, strict=True)))
            results = [replace(p, attestations=a) for p, a in zip(results, signed, strict=True)]
        if latest:
            await _point_latest(push, services, results)
        return results

    async def push_by_digest(self, settings: Settings, commit: str, dry_run: bool = False) -> list[PushedByDigest]:
        """Build every image, then push each into its service's repository by digest, under no tag, from the OCI
        layout the engine exports (its own publish needs a tag); with signing, signed with its SBOM and provenance.
        The inputs are checked already (publish_by_digest)."""
        config = self.config
        progress(f"building {len(self.images)} images: " + ", ".join(f"{i.service} {i.platform}" for i in self.images))
        started = datetime.now(UTC)
        await self.sync()
        finished = datetime.now(UTC)

        async def push(image: Image) -> PushedByDigest:
            svc, platform = catalogue.service(image.service), str(image.platform)
            repository = settings.image_repository(svc, config.registry)
            registry = await supply_chain.registry_of(svc, settings, config.access, config.registry_endpoint)
            if dry_run:
                return PushedByDigest(svc.name, platform, repository, f"sha256:{'0' * 64}")
            with tempfile.TemporaryDirectory() as scratch:  # the function's own filesystem
                layout = Path(scratch) / "image.tar"
                await labelled(image.container, commit).as_tarball().export(str(layout))
                progress(f"pushing {repository} for {platform} by digest")
                digest, _, _ = await asyncio.to_thread(oci.push_layout, registry.api, oci.Location.of(repository),
                                                       layout)
            attestations = ()
            if config.signing is not None:
                attestations = await self._sign([image], registry, repository, digest, commit, (started, finished))
            return PushedByDigest(svc.name, platform, repository, digest, attestations)

        return list(await asyncio.gather(*(push(i) for i in self.images)))

    async def move_latest(self, settings: Settings, results: list[Published], commit: str) -> None:
        """Point each published service's ``latest`` at the index `publish_all` pushed for it."""
        services = [catalogue.service(p.service) for p in results]
        await _point_latest(await self._pusher(settings, services, commit, False), services, results)

    async def _pusher(self, settings: Settings, services: list[Service], commit: str, dry_run: bool):
        """push(service, tag) -> the reference by digest it landed as; one registry login per kind."""
        logins = {kind: await self.config.access.registry_login(kind, settings.aws.region)
                  for kind in {s.registry for s in services}}

        async def push(svc: Service, tag: str) -> str:
            repository = settings.image_repository(svc, self.config.registry)
            ctr = dagger.dag.container()
            if (login := logins[svc.registry]) is not None:
                ctr = ctr.with_registry_auth(repository.split("/", 1)[0], login[0], login[1])
            if dry_run:
                return f"{repository}:{tag}@sha256:{'0' * 64}"
            progress(f"pushing {repository}:{tag}")
            return await ctr.publish(f"{repository}:{tag}", platform_variants=self.variants(svc.name, commit))

        return push

    async def _sign(self, images: list[Image], registry: supply_chain.Registry, repository: str, digest: str,
                    commit: str, when: tuple[datetime, datetime]) -> tuple[str, ...]:
        """Attest the SBOM and provenance of each of `images` (the platform images of `digest`, an index or one
        image), sign `digest` and the images in it: the digests of the referrers attached."""
        attestations = {}
        for image in images:
            facts = await self._facts(image, commit, when)
            attestations[str(image.platform)] = (sbom.scan(image.container, image.service),
                                                 provenance.predicate(facts))
        progress(f"signing {repository}@{digest} and attesting its SBOM and provenance")
        return tuple(await supply_chain.sign(self.config.signing, registry, repository, digest, attestations))

    async def _facts(self, image: Image, commit: str, when: tuple[datetime, datetime]) -> provenance.BuildFacts:
        """What one image was built from: its Dockerfile by digest, and each base resolved for its platform."""
        svc = catalogue.service(image.service)
        text = await image.dockerfile.contents()
        overrides = dict(pair.split("=", 1) for pair in self.config.base)  # checked by the build already
        bases = []
        for argument, default in images.base_args(text).items():
            reference = overrides.get(argument, default)
            resolved = await dagger.dag.container(platform=image.platform).from_(reference).image_ref()
            bases.append(provenance.Base(argument, reference, resolved.rpartition("@")[2],
                                         overridden=argument in overrides))
        repository = self.config.signing.repository
        return provenance.BuildFacts(
            service=image.service, platform=str(image.platform), repository=repository,
            commit=commit.lower(), dockerfile=svc.dockerfile,
            dockerfile_sha256=hashlib.sha256(text.encode()).hexdigest(),
            builder_id=f"{repository}/ci@{commit.lower()}", builder_version=await dagger.dag.version(),
            started=when[0], finished=when[1], bases=tuple(bases))


async def _point_latest(push, services: list[Service], results: list[Published]) -> None:
    landed = await asyncio.gather(*(push(s, LATEST) for s in services))
    for published, ref in zip(results, landed, strict=True):
        if ref.partition("@")[2] != published.digest:
            raise PublishError(
                f"{published.service}: latest landed as {ref} but {published.reference} is {published.digest}; "
                "the registry rewrote the index (check for a proxy or a registry that converts manifests)"
            )


def publish_report(results: list[Published], fmt: OutputFormat | str, dry_run: bool = False) -> str:
    rows = [
        {"service": r.service, "reference": r.reference, "digest": r.digest, "platforms": r.platforms, "latest": True,
         "attestations": list(r.attestations)}
        for r in results
    ]
    sections = [Section(
        header=("service", "reference", "digest", "platforms"),
        rows=[(r.service, r.reference, r.digest, ", ".join(r.platforms)) for r in results],
    )]
    if any(r.attestations for r in results):
        sections.append(Section(title="Signed, with SBOM and provenance attached (referrers of each image):",
                                header=("service", "attestation"),
                                rows=[(r.service, a) for r in results for a in r.attestations]))
    title = "Publish (dry run: nothing was pushed)" if dry_run else "Published, then latest moved to the same index"
    return render(title, sections, rows, fmt)
