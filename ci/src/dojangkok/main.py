"""The Dagger module's main object: what `dagger functions` lists and `dagger call` runs.

Thin by design: the logic lives in plain modules (tags, environments, plan, catalogue) with their own unit tests;
this layer only turns `dagger call` arguments into their inputs. Functions read nothing but their arguments and
the module's configuration (source, base images, setting overrides, and what `with-aws` / `with-gcp` /
`with-registry` declared once for every function after them).
"""

import asyncio
import copy
import dataclasses
import json
from datetime import UTC, datetime
from typing import Annotated

import dagger
import httpx
from dagger import DefaultPath, Doc, Ignore, check, function, object_type

from . import catalogue, credentials, history, images, oci, records, release, supply_chain, testing
from . import merge as merging
from . import promote as promotion
from .arguments import BranchArg, CommitArg, EnvArg, FormatArg, VersionArg
from .build import Build, Image, publish_report
from .configuration import Configuration
from .credentials import AwsAccess, GcpAccess, PrometheusAccess, endpoint_url
from .deploy import DeployError, Outcome
from .deploy.common import parse_image
from .deploy.lock import LockRecord
from .environments import SETTINGS_FILE, Environment, check_registry_override, load, parse_overrides
from .plan import check_inputs, check_signing, make_plan, service_names
from .report import OutputFormat, progress

dagger.enum_type(Environment)
dagger.enum_type(OutputFormat)

# An allow-list: only what the pipeline reads reaches the engine, so unrelated edits keep the caches warm.
SOURCE_INCLUDE = [
    "*",
    "!ci/",
    "!services/",
    "!dockerfiles/",
    "!deploy/",
    "!dagger.json",
    "ci/sdk/",
    "**/.venv/",
    "**/node_modules/",
    "**/.next/",
    "**/target/",
    "**/__pycache__/",
    "**/.pytest_cache/",
    "**/.ruff_cache/",
]

ServiceArg = Annotated[
    list[str] | None, Doc("Only these services (repeat or comma-separate); default: every built service")
]
PlatformArg = Annotated[
    list[str] | None,
    Doc("Build for these platforms instead of the catalogue's (e.g. linux/amd64, fast); vllm stays amd64"),
]
IndependentArg = Annotated[
    bool, Doc("Keep each service's outcome: do not revert the services that reached a release another did not")
]
ActorArg = Annotated[
    str, Doc("Who runs this, recorded in the environment's deploy lock (CI: the workflow's actor and run)")
]
CommitTimeArg = Annotated[
    str, Doc("When the commit was made, ISO 8601 (CI: git log -1 --format=%cI): where its lead time starts")
]
SinceArg = Annotated[str, Doc("From this long ago (e.g. 30d, 12h, 2w) or this time (ISO 8601, e.g. 2026-12-01)")]
BreakLockArg = Annotated[
    bool, Doc("Break the environment's deploy lock first: only when its holder's run is gone (killed, lost)")
]


@object_type
class Dojangkok:
    """Dojangkok's delivery pipeline: build, test, publish and deploy its services on AWS and GCP.

    Credentials and endpoints are declared once, before the function that needs them:
    `dagger call with-aws … with-gcp … deploy --env prd …`.
    """

    # The constructor's arguments (`dagger call --base … --override …`), and below them the module's configuration:
    # those two and what the with-* functions declare, kept between chained calls but not listed among the functions.
    source: Annotated[
        dagger.Directory,
        Doc("The repository (defaults to the checkout holding dagger.json; only pipeline-relevant paths are read)"),
        DefaultPath("."),
        Ignore(SOURCE_INCLUDE),
    ]
    base: Annotated[
        list[str],
        Doc("Replace a production base image in every build: ARG=IMAGE, e.g. NODE_IMAGE=mirror.example/node:20"),
    ] = dataclasses.field(default_factory=list)
    override: Annotated[
        list[str],
        Doc(
            f"Override a setting of {SETTINGS_FILE} for this run: NAME=VALUE, NAME as the setting's variable, "
            "e.g. DOJANGKOK_PRD_AWS_REGION=us-east-1"
        ),
    ] = dataclasses.field(default_factory=list)
    config: Configuration = dataclasses.field(default_factory=Configuration, init=False)

    def __post_init__(self) -> None:
        # Also when the engine restores this object for a chained call: its saved config then replaces this one.
        self.config = Configuration(base=self.base, override=self.override)

    def _declaring(self, **changes) -> "Dojangkok":
        new = copy.copy(self)
        new.config = self.config.declaring(**changes)
        return new

    @function
    def with_aws(
        self,
        access_key_id: Annotated[dagger.Secret, Doc("AWS access key id (env:AWS_ACCESS_KEY_ID)")],
        secret_access_key: Annotated[dagger.Secret, Doc("AWS secret access key (env:AWS_SECRET_ACCESS_KEY)")],
        session_token: Annotated[
            dagger.Secret | None, Doc("Session token of a role session (env:AWS_SESSION_TOKEN)")
        ] = None,
        endpoint: Annotated[
            dagger.Service | None, Doc("An AWS emulator instead of AWS, e.g. tcp://localhost:4566 (moto server)")
        ] = None,
    ) -> "Dojangkok":
        """Use these AWS credentials (ECR logins, CodeDeploy, S3) in every function after this one."""
        return self._declaring(aws=AwsAccess(
            access_key_id=access_key_id, secret_access_key=secret_access_key,
            session_token=session_token, endpoint=endpoint,
        ))

    @function
    def with_gcp(
        self,
        credentials: Annotated[
            dagger.Secret | None,
            Doc("Credentials JSON, workload identity or service account (file:$GOOGLE_APPLICATION_CREDENTIALS)"),
        ] = None,
        access_token: Annotated[
            dagger.Secret | None, Doc("An OAuth access token (cmd:'gcloud auth print-access-token')")
        ] = None,
        endpoint: Annotated[
            dagger.Service | None,
            Doc("The Compute / Cloud Deploy fake instead of Google, e.g. tcp://localhost:8085 (called anonymously: "
                "credentials given with it are not used)"),
        ] = None,
    ) -> "Dojangkok":
        """Use these Google credentials (Artifact Registry, Compute, Cloud Deploy) in every function after this one."""
        if credentials is None and access_token is None and endpoint is None:
            raise ValueError("with-gcp needs --credentials, --access-token or --endpoint")
        return self._declaring(gcp=GcpAccess(credentials=credentials, access_token=access_token, endpoint=endpoint))

    @function
    def with_prometheus(
        self,
        endpoint: Annotated[dagger.Service, Doc("Prometheus' HTTP API, e.g. tcp://localhost:9090")],
        token: Annotated[dagger.Secret | None, Doc("Bearer token, if it asks for one (env:PROMETHEUS_TOKEN)")] = None,
    ) -> "Dojangkok":
        """Judge every new release with this Prometheus (the analysis gate) instead of prometheus_url."""
        return self._declaring(prometheus=PrometheusAccess(endpoint=endpoint, token=token))

    @function
    def with_registry(
        self,
        address: Annotated[str, Doc("host[:port][/path], e.g. 127.0.0.1:5000; images go to {address}/dojangkok/…")],
        endpoint: Annotated[
            dagger.Service | None,
            Doc("Where functions reach its API when the address is the host's own, e.g. tcp://localhost:5000 "
                "(promote copies through it)"),
        ] = None,
        username: Annotated[str, Doc("Its user name, if it asks for a login")] = "",
        password: Annotated[dagger.Secret | None, Doc("Its password or token (env:REGISTRY_PASSWORD)")] = None,
    ) -> "Dojangkok":
        """Send every image to this registry instead of ECR / Artifact Registry (a local or mirror registry).

        It gets only the login given here: AWS and Google tokens go to ECR and Artifact Registry alone.
        """
        if bool(username) != (password is not None):
            raise ValueError("with-registry takes --username and --password together (or neither, for a registry "
                             f"that takes anonymous pushes); got {'--username' if username else '--password'} alone")
        login = credentials.RegistryLogin(username=username, password=password) if password is not None else None
        return self._declaring(registry=check_registry_override(address), registry_endpoint=endpoint,
                          registry_login=login)

    @function
    def with_signing(
        self,
        public_key: Annotated[dagger.File, Doc("cosign.pub: deploy and promote verify every image against it")],
        key: Annotated[
            dagger.Secret | None, Doc("cosign.key, to sign what publish and deploy push (env:COSIGN_KEY)")
        ] = None,
        password: Annotated[dagger.Secret | None, Doc("The key's password (env:COSIGN_PASSWORD)")] = None,
        repository: Annotated[
            str, Doc("Source repository the provenance names (CI: $GITHUB_SERVER_URL/$GITHUB_REPOSITORY)")
        ] = "https://github.com/dojangkok/dojangkok",
    ) -> "Dojangkok":
        """Sign every pushed image (SBOM, provenance, signature) and verify each before it is rolled out.

        prd requires it; dev verifies whenever it is declared. Without --key, only verifying works (promote).
        """
        return self._declaring(signing=supply_chain.check_signing_inputs(supply_chain.Signing(
            public_key=public_key, key=key, password=password, repository=repository)))

    @function
    def with_keyless_signing(
        self,
        identity: Annotated[str, Doc(
            "Regexp of the workflow identity allowed to sign, e.g. "
            "^https://github.com/OWNER/REPO/.github/workflows/deploy.yml@refs/heads/main$")],
        issuer: Annotated[str, Doc("Its OIDC issuer")] = "https://token.actions.githubusercontent.com",
        oidc_request_url: Annotated[
            dagger.Secret | None, Doc("To sign: env:ACTIONS_ID_TOKEN_REQUEST_URL (a job with id-token: write)")
        ] = None,
        oidc_request_token: Annotated[
            dagger.Secret | None, Doc("To sign: env:ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        ] = None,
        repository: Annotated[
            str, Doc("Source repository the provenance names ($GITHUB_SERVER_URL/$GITHUB_REPOSITORY)")
        ] = "https://github.com/dojangkok/dojangkok",
    ) -> "Dojangkok":
        """with-signing without a key: Sigstore signs with the CI run's OIDC identity; verify pins that identity.

        For GitHub Actions (docs/supply-chain.md); needs Fulcio and Rekor, so it cannot run offline.
        """
        return self._declaring(signing=supply_chain.check_signing_inputs(supply_chain.Signing(
            oidc_request_url=oidc_request_url, oidc_request_token=oidc_request_token, identity=identity,
            issuer=issuer, repository=repository)))

    # The dev tag carries the current minute, so a cached result would show a stale tag.
    @function(cache="never")
    async def plan(
        self,
        env: Annotated[Environment, Doc("Environment to plan for: dev or prd")],
        branch: BranchArg = "",
        version: VersionArg = "",
        commit: CommitArg = "",
        service: ServiceArg = None,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Show what a deploy would do, touching nothing: tags, images, targets, resources, cloud API calls."""
        inputs = {"branch": branch, "version": version, "commit": commit, "services": service,
                  "when": datetime.now(UTC), "registry_override": self.config.registry}
        check_inputs(env, **inputs)  # refuse bad input before asking the engine for anything
        result = make_plan(
            env, **inputs, settings_text=await self.source.file(SETTINGS_FILE).contents(),
            overrides=parse_overrides(env, self.config.override), prometheus_given=self.config.prometheus is not None,
            signing_given=self.config.signing is not None,
        )
        return result.render(format)

    async def known_bases(self) -> set[str]:
        texts = await asyncio.gather(*(self.source.file(s.dockerfile).contents() for s in catalogue.BUILT))
        return {name for text in texts for name in images.base_args(text)}

    @function
    async def build(
        self,
        service: ServiceArg = None,
        platform: PlatformArg = None,
        shipped_only: Annotated[bool, Doc(
            "Only the platforms each service ships among --platform, skipping a service that ships none of them: "
            "one native runner's share (without it, --platform replaces the services' platforms)")] = False,
    ) -> Build:
        """Build every service's image for its platforms (arm64 web tier and AI server, amd64 vLLM), all at once.

        The images are built when this returns; chain `summary`, `container`, `export` or `publish` onto it.
        """
        return await (await self.defined_build(service, platform, shipped_only=shipped_only)).sync()

    async def defined_build(self, service: list[str] | None, platform: list[str] | None,
                            shipped_only: bool = False) -> Build:
        """The build of the chosen services, defined but not run: bad input is refused before any build step.
        `shipped_only`: only the platforms each service ships among `platform` (a runner's share of a release)."""
        chosen = catalogue.select(service_names(service) or None)
        platforms_of = images.shipped_platforms_among if shipped_only else images.platforms_for
        plans = [(svc, p) for svc in chosen for p in platforms_of(svc, platform)]
        if not plans:
            raise images.BuildInputError(
                f"none of {', '.join(s.name for s in chosen)} ships {', '.join(platform or [])}: the catalogue's "
                "platforms are " + "; ".join(f"{s.name} {', '.join(s.platforms)}" for s in chosen))
        bases = images.parse_bases(self.config.base, await self.known_bases())
        return Build(
            images=[
                Image(service=svc.name, platform=dagger.Platform(p),
                      container=images.dockerfile_build(self.source, svc, p, bases),
                      dockerfile=self.source.file(svc.dockerfile))
                for svc, p in plans
            ],
            settings_file=self.source.file(SETTINGS_FILE),
            config=self.config,
        )

    @function
    async def sbom(self, service: ServiceArg = None, platform: PlatformArg = None) -> dagger.Directory:
        """Build, then scan every image with syft: SPDX JSON per service and platform (`sbom export --path sbom`).

        Lists the OS packages and the npm, Maven and pip dependencies inside each image.
        """
        return (await self.defined_build(service, platform)).sbom()

    @function
    @check
    async def test(self, service: ServiceArg = None) -> testing.TestSuite:
        """Run every service's tests inside its Dockerfile's test stage on the engine; a failure names the service."""
        chosen = catalogue.select(service_names(service) or None)
        bases = images.parse_bases(self.config.base, await self.known_bases())
        # Test stages run on the engine's own platform: they prove the code, the build proves the platforms.
        host = str(await dagger.dag.default_platform())
        stages = {}
        for svc in chosen:
            where = svc.platforms[0] if svc.accelerator else host
            stages[svc.name] = images.dockerfile_build(self.source, svc, where, bases, "test")
        return await testing.run_all(stages)

    @function(cache="never")
    async def publish(
        self,
        env: EnvArg,
        branch: BranchArg = "",
        version: VersionArg = "",
        commit: CommitArg = "",
        service: ServiceArg = None,
        platform: PlatformArg = None,
        dry_run: Annotated[bool, Doc("Build and authenticate, but push nothing")] = False,
        by_digest: Annotated[bool, Doc(
            "Push each platform's image by digest under no tag, only the catalogue's platforms among --platform "
            "(this runner's share of the release); `merge` makes the release of every runner's")] = False,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Build, then push each image under its unique tag and, only once every push landed, move latest."""
        # Refuses a bad --service, --platform or --base; builds nothing yet. publish_* check the rest, then build.
        built = await self.defined_build(service, platform, shipped_only=by_digest)
        if by_digest:
            return merging.by_digest_report(await built.publish_by_digest(env, branch, version, commit, dry_run),
                                            format, dry_run)
        results = await built.publish_all(env, branch, version, commit, dry_run)
        return publish_report(results, format, dry_run)

    @function(cache="never")
    async def merge(
        self,
        env: EnvArg,
        image: Annotated[list[str], Doc(
            "SERVICE/OS/ARCH@DIGEST of each platform's image, as publish --by-digest prints them: every platform of "
            "each service (repeat or comma-separate)")],
        commit: Annotated[str, Doc("The commit every image's org.opencontainers.image.revision label must name")],
        branch: BranchArg = "",
        version: VersionArg = "",
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Make one release of images pushed by digest on several engines: an index per service under its unique tag,
        signed, then latest. Every image is checked first (there, its platform, its commit, with signing every
        supply-chain check); a refusal writes nothing."""
        config = self.config
        merge = self._merge(image)
        which, tag, _, _ = check_inputs(env, branch=branch, version=version, commit=commit,
                                        services=[s.name for s in merge.services()],
                                        registry_override=config.registry)
        merge.check_publish(commit)
        settings = load(which, text=await self.source.file(SETTINGS_FILE).contents(),
                        environ=parse_overrides(which, config.override))
        return publish_report(await merge.push_release(settings, tag, commit), format)

    def _merge(self, images: list[str]) -> merging.Merge:
        return merging.Merge(merging.parse([v for value in images for v in value.split(",") if v.strip()]),
                             self.config)

    @function(cache="never")
    async def deploy(
        self,
        env: EnvArg,
        branch: BranchArg = "",
        version: VersionArg = "",
        commit: CommitArg = "",
        service: ServiceArg = None,
        platform: PlatformArg = None,
        independent: IndependentArg = False,
        actor: ActorArg = "",
        commit_time: CommitTimeArg = "",
        break_lock: BreakLockArg = False,
        image: Annotated[list[str] | None, Doc(
            "Roll out images built elsewhere instead of building: SERVICE/OS/ARCH@DIGEST of every platform of each "
            "service, as publish --by-digest prints them, merged into the release first (no --service, --platform)"
        )] = None,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Publish (or merge --image), then roll out by digest: CodeDeploy Blue/Green on AWS and rolling MIG updates
        on GCP, at once.

        One deploy per environment at a time (a lock in its bundle bucket); a service that does not reach the
        release puts the others back too. Every call leaves a record (`history`, `dora`); a release the analysis
        gate rolls back is rejected for good.
        """
        config = self.config
        merge = self._merge(image) if image else None
        if merge is not None and (service or platform):
            raise ValueError("deploy --image rolls out the services of its images, built elsewhere: drop --service "
                             "and --platform")
        # The one unique tag of this call (a dev tag reads the clock): the lock record's, the pre-lock check's, pushed.
        which, tag, chosen, _ = check_inputs(
            env, branch=branch, version=version, commit=commit, registry_override=config.registry,
            services=[s.name for s in merge.services()] if merge is not None else service)
        commit_time = records.check_commit_time(commit_time)
        config.access.check_deploy(chosen)  # before anything is built or pushed
        check_signing(which, config.signing is not None)
        # Refuses a bad --base; builds nothing yet. A merge builds nothing at all.
        images_of = merge if merge is not None else await self.defined_build(service, platform)
        images_of.check_publish(commit)
        drivers = await self._drivers(which)
        store = drivers.records()
        await self._check_existing(chosen, drivers.settings, tag, commit)  # no cloud call before this passes
        records.refuse_rejected([store], commit)  # a rejected commit is not even built
        lock = drivers.lock()
        record = self._release_record(which, "deploy", actor, chosen, commit=commit, commit_time=commit_time, tag=tag)
        with (lock.held(self._lock_record(which, "deploy", tag, chosen, actor), break_lock=break_lock),
              records.recorded(store, record) as recording):
            published = await images_of.push_release(drivers.settings, tag, commit, latest=False)
            records.refuse_rejected([store], commit, [p.digest for p in published])
            await self._verify(drivers.settings, [(p.service, p.repository, p.digest) for p in published], commit)
            by_name = {p.service: p.pinned for p in published}
            results = await release.run([(s, by_name[s.name]) for s in chosen], drivers, independent)
            recording.done(results)
            # latest names what runs: it moves once the release does (a reverted release leaves it where it was)
            reached = {r.service for r in results if r.outcome is Outcome.SUCCEEDED}
            await images_of.move_latest(drivers.settings, [p for p in published if p.service in reached], commit)
        return release.check_outcomes(results, release.report(results, format, broken=lock.broken))

    @function(cache="never")
    async def promote(
        self,
        version: Annotated[str, Doc("Release version, vMAJOR.MINOR.PATCH: prd's tag prod-{version}-{commit7}")],
        commit: Annotated[str, Doc("The commit dev runs and prd gets (its images' org.opencontainers.image.revision)")],
        service: ServiceArg = None,
        independent: IndependentArg = False,
        actor: ActorArg = "",
        commit_time: Annotated[str, Doc(
            "When the commit was made, ISO 8601; default: as dev's release record of the commit says")] = "",
        break_lock: BreakLockArg = False,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Promote what dev runs for a commit to prd by digest, no rebuild: copy, check digests, roll out.

        Each service's dev image must carry the commit's label; the copy goes under prod-{version}-{commit7}, then
        latest, and must keep its digest. Refused before any push when dev runs another commit, or when dev or prd
        rejected it.
        """
        prd, tag, chosen, override = check_inputs(
            Environment.prd, version=version, commit=commit, services=service, registry_override=self.config.registry
        )
        commit_time = records.check_commit_time(commit_time)
        self.config.access.check_deploy(chosen)
        self.config.access.check_push({s.registry for s in chosen})
        check_signing(prd, self.config.signing is not None)
        dev_drivers, prd_drivers = await asyncio.gather(self._drivers(Environment.dev, prd),
                                                         self._drivers(prd, Environment.dev))
        stores = [dev_drivers.records(), prd_drivers.records()]
        records.refuse_rejected(stores, commit)
        reach = await self._reach(chosen, dev_drivers.settings, prd_drivers.settings)
        lock = prd_drivers.lock()
        record = self._release_record(prd, "promote", actor, chosen, commit=commit, tag=tag,
                                      commit_time=commit_time or records.commit_time_of(stores[0], commit))
        with (lock.held(self._lock_record(prd, "promote", tag, chosen, actor), break_lock=break_lock),
              records.recorded(stores[1], record) as recording):
            found = await asyncio.to_thread(promotion.dev_images, dev_drivers, chosen, commit, reach)
            records.refuse_rejected(stores, commit, [i.digest for i in found])
            await self._verify(dev_drivers.settings, [(i.service.name, i.repository, i.digest) for i in found], commit)
            published = await promotion.copy_to(
                found, lambda svc: prd_drivers.settings.image_repository(svc, override), tag, reach)
            await self._verify(prd_drivers.settings, [(p.service, p.repository, p.digest) for p in published],
                               commit)
            by_name = {p.service: p.pinned for p in published}
            results = await release.run([(s, by_name[s.name]) for s in chosen], prd_drivers, independent)
            recording.done(results)
            await release.point_latest([r.image for r in results if r.outcome is Outcome.SUCCEEDED], reach)
        return release.check_outcomes(results, release.report(results, format, broken=lock.broken))

    async def _verify(self, settings, images: list[tuple[str, str, str]], commit: str) -> None:
        """Every supply-chain check on the images about to roll out, (service, repository, digest) each;
        VerifyRefused before any target is touched. Nothing to check without with-signing (dev)."""
        if self.config.signing is None:
            return
        checked = [(await self._registry(catalogue.service(name), settings), repository, digest)
                   for name, repository, digest in images]
        await supply_chain.verify_all(self.config.signing, checked, commit)

    async def _registry(self, svc, settings) -> supply_chain.Registry:
        return await supply_chain.registry_of(svc, settings, self.config.access, self.config.registry_endpoint)

    async def _check_existing(self, chosen, settings, tag: str, commit: str) -> None:
        """A release tag already in the registry must pass every check (an image pushed there by anyone else does
        not): refused before the deploy lock, the first cloud call."""
        if self.config.signing is None:
            return
        for svc in chosen:
            registry = await self._registry(svc, settings)
            repository = settings.image_repository(svc, self.config.registry)
            if digest := await supply_chain.tagged(registry, repository, tag):
                progress(f"{repository}:{tag} is in the registry already: checking it before anything else")
                await supply_chain.verify(self.config.signing, registry, repository, digest, commit)

    async def _reach(self, chosen, *environments) -> oci.Reach:
        """URL and login of every registry the services' images live in, by registry name, for the copy."""
        table: dict[str, tuple[str, tuple[str, str] | None]] = {}
        local_url = await endpoint_url(self.config.registry_endpoint)
        for settings in environments:
            for svc in chosen:
                name = settings.registry(svc, self.config.registry).split("/", 1)[0]
                if name in table:
                    continue
                login = await self.config.access.registry_login(svc.registry, settings.aws.region)
                url = local_url if self.config.registry and local_url else f"https://{name}"
                table[name] = (url, (login[0], await login[1].plaintext()) if login else None)
        return lambda name: table.get(name, (f"https://{name}", None))

    @function(cache="never")
    async def rollback(
        self,
        env: Annotated[Environment, Doc("Environment to roll back: dev or prd")],
        service: ServiceArg = None,
        actor: ActorArg = "",
        break_lock: BreakLockArg = False,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Put every selected service back on its previous successful release.

        The release it returns to is checked first, as deploy checks a new one: not rejected, and (with
        with-signing) signed, with provenance naming the commit its image's label names.
        """
        chosen = catalogue.select(service_names(service) or None)
        self.config.access.check_deploy(chosen)
        self.config.access.check_push({s.registry for s in chosen})  # latest follows what runs
        which = Environment(env)
        drivers = await self._drivers(which)
        store = drivers.records()
        reach = await self._reach(chosen, drivers.settings)

        async def check(targets: list[tuple[catalogue.Service, str]]) -> None:
            records.refuse_rejected([store], "", [image.partition("@")[2] for _, image in targets])
            commits = await asyncio.gather(*(self._verify_returned(drivers.settings, svc, image, reach)
                                             for svc, image in targets))
            recording.returning_to(set(commits))

        lock = drivers.lock()
        with (lock.held(self._lock_record(which, "rollback", "the current release", chosen, actor),
                        break_lock=break_lock),
              records.recorded(store, self._release_record(which, "rollback", actor, chosen)) as recording):
            results = await release.roll_back(chosen, drivers, check)
            recording.done(results)
            await release.point_latest([r.image for r in results if r.outcome is Outcome.SUCCEEDED], reach)
        return release.check_outcomes(results, release.report(results, format, rollback=True, broken=lock.broken))

    async def _verify_returned(self, settings, svc: catalogue.Service, image: str, reach: oci.Reach) -> str:
        """The checks deploy makes, on a release a rollback returns to: its commit is the one its label names. The
        commit, for the record ("" where unsigned images cannot tell: a rollback is not held up by its record)."""
        # What a bad reference (DeployError) or an unreadable manifest raises is caught; anything else is a bug.
        try:
            ref = parse_image(image)
            location = oci.Location.of(ref.repository)
            _, labels = await asyncio.to_thread(oci.describe, oci.reached(reach, location.registry),
                                                location.repository, ref.digest)
        except (DeployError, oci.CopyError, httpx.HTTPError, json.JSONDecodeError) as error:
            if self.config.signing is None:
                return ""
            what = "not an image by digest" if isinstance(error, DeployError) else "its manifest could not be read"
            raise supply_chain.VerifyRefused(image or svc.name, "signature", f"{what} ({error})") from error
        commit = labels.get(oci.REVISION_LABEL, "")
        if self.config.signing is not None:
            await self._verify(settings, [(svc.name, ref.repository, ref.digest)], commit)
        return commit

    @function(cache="never")
    async def history(
        self,
        env: Annotated[Environment, Doc("The environment whose records to read: dev or prd")],
        service: Annotated[list[str] | None, Doc("Only the calls that touched these services")] = None,
        since: SinceArg = "30d",
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """What deploy, promote and rollback did in an environment, newest first: one row per call, both clouds.

        Read from the release records in the environment's bundle bucket (outcome per service, images by digest,
        commit, actor, start and end, and the cause when it did not succeed everywhere).
        """
        start = history.parse_since(since)
        chosen = set(service_names(service)) if service else None
        store = (await self._records_of(Environment(env))).read(start)
        return history.history(store, chosen, format, Environment(env).value)

    @function(cache="never")
    async def dora(
        self,
        env: Annotated[Environment, Doc("The environment to measure, usually prd")],
        since: SinceArg = "90d",
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """The four DORA metrics of an environment, from its release records; a release across both clouds counts
        once.

        Deployment frequency: releases (deploys and promotes) per day, bucketed as Four Keys does (daily: the
        median week has releases on 3 days or more; weekly: most weeks have one; monthly: most months; else
        yearly). Lead time for changes: median from --commit-time to the end of the release that made it serve.
        Change failure rate: releases that were rolled back (by the gate or a failed rollout), reverted, failed,
        or later rolled back, over all releases. Time to restore: median from the start of a failed release to
        the end of the call that put the release before it back. Markdown adds a weekly chart (Mermaid).
        """
        start = history.parse_since(since)
        found = (await self._records_of(Environment(env))).read()  # a later rollback can fail an earlier release
        return history.report(history.dora(found, start, datetime.now(UTC), Environment(env).value), format)

    @function(cache="never")
    async def reject(
        self,
        env: Annotated[Environment, Doc("The environment where the release was judged bad")],
        commit: Annotated[str, Doc("The release's commit (7 to 40 hex characters)")],
        reason: Annotated[str, Doc("Why, for whoever tries to roll it out again")],
        actor: ActorArg = "",
    ) -> str:
        """Reject a release for good: deploy and promote refuse its commit and its images' digests from now on.

        Its digests are those the environment's records name for the commit. The analysis gate rejects a release
        it rolls back the same way.
        """
        check_inputs(Environment.prd, version="v0.0.0", commit=commit)  # the commit's form, as prd checks it
        if not reason.strip():
            raise ValueError("reject needs --reason: say why, for whoever tries to roll it out again")
        store = await self._records_of(Environment(env))
        kept = store.reject(records.rejection_of(store.read(), Environment(env).value, commit, reason.strip(),
                                                 actor or "unknown (no --actor)"))
        return kept.describe() + "".join(f"\n  {d}" for d in kept.digests) + "\n"

    async def _records_of(self, env: Environment) -> records.Records:
        if self.config.aws is None:
            raise credentials.CredentialsError(f"the release records are in the S3 bundle bucket: call "
                                               f"{credentials.AWS_FLAGS} before this function")
        return (await self._drivers(env)).records()

    async def _drivers(self, env: Environment, *also: Environment) -> release.Drivers:
        """The deploy drivers of `env`, their cloud clients built (the secrets are read here, once); `also`: other
        environments this run reads, whose overrides are not typos."""
        settings = load(env, text=await self.source.file(SETTINGS_FILE).contents(),
                        environ=parse_overrides(env, self.config.override, also))
        return await release.Drivers(settings, self.config.access, *await release.deploy_files(self.source)).prepare()

    @staticmethod
    def _release_record(env: Environment, action: str, actor: str, chosen, **fields: str) -> records.Record:
        return records.Record(environment=env.value, action=action, started=records.now(), ended="",
                              actor=actor or "unknown (no --actor)", services=tuple(s.name for s in chosen),
                              **fields)

    @staticmethod
    def _lock_record(env: Environment, action: str, what: str, chosen, actor: str) -> LockRecord:
        return LockRecord(environment=env.value, holder=actor or "unknown (no --actor)", action=action,
                          release=what, services=tuple(s.name for s in chosen))
