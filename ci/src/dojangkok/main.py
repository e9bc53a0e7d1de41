"""The Dagger module's main object: what `dagger functions` lists and `dagger call` runs.

Thin by design: the logic lives in plain modules (tags, environments, plan, catalogue) with their own unit tests;
this layer only turns `dagger call` arguments into their inputs.
"""

import asyncio
import os
from datetime import UTC, datetime
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, field, function, object_type

from . import catalogue, images, release, testing
from .build import Build, Image, Published, publish_report
from .credentials import AwsCredentials, GcpCredentials
from .environments import SETTINGS_FILE, Environment, Settings, load, parse_overrides
from .plan import OutputFormat, check_inputs, make_plan, service_names
from .release import Targets

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
BaseArg = Annotated[
    list[str] | None,
    Doc("Replace a production base image: ARG=IMAGE, e.g. NODE_IMAGE=127.0.0.1:5000/stand-in/node:bookworm"),
]
RegistryArg = Annotated[
    str, Doc("Send every image to this registry instead of ECR / Artifact Registry, e.g. 127.0.0.1:5000")
]
OverrideArg = Annotated[
    list[str] | None,
    Doc(
        f"Override a setting of {SETTINGS_FILE} for this run: NAME=VALUE with the environment variable's "
        "name, e.g. DOJANGKOK_PRD_AWS_REGION=us-east-1"
    ),
]


EnvArg = Annotated[Environment, Doc("dev (tag dev-{branch}-{time}) or prd (tag prod-{version}-{commit})")]
BranchArg = Annotated[str, Doc("Git branch of a dev release, e.g. feat/login (dev only)")]
VersionArg = Annotated[str, Doc("Release version, v + semver, e.g. v1.0.2 (prd only)")]
CommitArg = Annotated[str, Doc("Git commit SHA, at least 7 hex characters (required for prd)")]
FormatArg = Annotated[OutputFormat, Doc("text (a table, default) or json (the same data)")]
AwsKeyIdArg = Annotated[dagger.Secret | None, Doc("AWS access key id (env:AWS_ACCESS_KEY_ID)")]
AwsSecretArg = Annotated[dagger.Secret | None, Doc("AWS secret access key (env:AWS_SECRET_ACCESS_KEY)")]
AwsTokenArg = Annotated[dagger.Secret | None, Doc("AWS session token of a role session (env:AWS_SESSION_TOKEN)")]
AwsEndpointArg = Annotated[str, Doc("AWS API endpoint, for an emulator (moto server); empty in production")]
GcpTokenArg = Annotated[dagger.Secret | None, Doc("Google OAuth access token (cmd:'gcloud auth print-access-token')")]
GcpCredentialsArg = Annotated[
    dagger.Secret | None,
    Doc("Google credentials JSON: service account or workload identity (file:$GOOGLE_APPLICATION_CREDENTIALS)"),
]
GcpEndpointArg = Annotated[str, Doc("Compute / Cloud Deploy API endpoint, for the local fake; empty in production")]


def cloud_targets(
    aws_access_key_id, aws_secret_access_key, aws_session_token, aws_endpoint_url,
    gcp_access_token, gcp_credentials, gcp_endpoint: str = "",
) -> Targets:
    """The run's cloud credentials and endpoints, as every side-effecting function receives them."""
    return Targets(
        AwsCredentials(aws_access_key_id, aws_secret_access_key, aws_session_token, aws_endpoint_url),
        GcpCredentials(gcp_access_token, gcp_credentials),
        gcp_endpoint,
    )


@object_type
class Dojangkok:
    """Dojangkok's delivery pipeline: build, test, publish and deploy its services on AWS and GCP."""

    source: Annotated[
        dagger.Directory,
        Doc("The repository (defaults to the checkout holding dagger.json; only pipeline-relevant paths are read)"),
        DefaultPath("."),
        Ignore(SOURCE_INCLUDE),
    ] = field()

    # The dev tag carries the current minute, so a cached result would show a stale tag.
    @function(cache="never")
    async def plan(
        self,
        env: Annotated[Environment, Doc("Environment to plan for: dev or prd")],
        branch: Annotated[str, Doc("Git branch of a dev release, e.g. feat/login (dev only)")] = "",
        version: Annotated[str, Doc("Release version, v + semver, e.g. v1.0.2 (prd only)")] = "",
        commit: Annotated[str, Doc("Git commit SHA, at least 7 hex characters (required for prd)")] = "",
        service: ServiceArg = None,
        format: Annotated[OutputFormat, Doc("text (tables, default) or json (the same data)")] = OutputFormat.text,
        registry: RegistryArg = "",
        override: OverrideArg = None,
    ) -> str:
        """Show what a deploy would do, touching nothing: tags, images, targets, resources, cloud API calls."""
        when = datetime.now(UTC)
        inputs = {"branch": branch, "version": version, "commit": commit, "services": service, "when": when}
        # Refuse bad input before asking the engine for anything.
        check_inputs(env, **inputs, registry_override=registry)
        environ = {**os.environ, **parse_overrides(env, override or [])}
        settings_text = await self.source.file(SETTINGS_FILE).contents()
        result = make_plan(env, **inputs, registry_override=registry, settings_text=settings_text, environ=environ)
        return result.render(format)

    async def settings(self, env: Environment, override: list[str] | None) -> Settings:
        environ = {**os.environ, **parse_overrides(env, override or [])}
        return load(env, text=await self.source.file(SETTINGS_FILE).contents(), environ=environ)

    async def known_bases(self) -> set[str]:
        texts = await asyncio.gather(*(self.source.file(s.dockerfile).contents() for s in catalogue.BUILT))
        return {name for text in texts for name in images.base_args(text)}

    @function
    async def build(
        self,
        service: ServiceArg = None,
        platform: PlatformArg = None,
        base: BaseArg = None,
    ) -> Build:
        """Build every service's image for its platforms (arm64 web tier and AI server, amd64 vLLM), all at once."""
        chosen = catalogue.select(service_names(service) or None)
        plans = [(svc, p) for svc in chosen for p in images.platforms_for(svc, platform)]
        bases = images.parse_bases(base, await self.known_bases())
        return Build(
            images=[
                Image(
                    service=svc.name,
                    platform=dagger.Platform(p),
                    container=images.dockerfile_build(self.source, svc, p, bases),
                )
                for svc, p in plans
            ]
        )

    @function
    async def test(
        self,
        service: ServiceArg = None,
        base: BaseArg = None,
    ) -> testing.TestSuite:
        """Run every service's tests inside its Dockerfile's test stage on the engine; a failure names the service."""
        chosen = catalogue.select(service_names(service) or None)
        bases = images.parse_bases(base, await self.known_bases())
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
        base: BaseArg = None,
        registry: RegistryArg = "",
        override: OverrideArg = None,
        aws_access_key_id: AwsKeyIdArg = None,
        aws_secret_access_key: AwsSecretArg = None,
        aws_session_token: AwsTokenArg = None,
        aws_endpoint_url: AwsEndpointArg = "",
        gcp_access_token: GcpTokenArg = None,
        gcp_credentials: GcpCredentialsArg = None,
        dry_run: Annotated[bool, Doc("Build and authenticate, but push nothing")] = False,
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Build, then push each image under its unique tag and, only once every push landed, move latest."""
        targets = cloud_targets(
            aws_access_key_id, aws_secret_access_key, aws_session_token, aws_endpoint_url,
            gcp_access_token, gcp_credentials,
        )
        _, results = await self._publish(
            env, branch, version, commit, service, platform, base, registry, override, targets.credentials, dry_run
        )
        return publish_report(results, format)

    async def _publish(
        self, env, branch, version, commit, service, platform, base, registry, override, credentials, dry_run
    ) -> tuple[Settings, list[Published]]:
        which, tag, chosen, override_registry = check_inputs(
            env, branch=branch, version=version, commit=commit, services=service, when=datetime.now(UTC),
            registry_override=registry,
        )
        # Everything a user can get wrong is refused before the first build step.
        credentials.check({s.registry for s in chosen}, anonymous_ok=bool(override_registry))
        settings = await self.settings(which, override)
        built = await self.build([s.name for s in chosen], platform, base)  # refuses bad --base before building
        return settings, await built.publish_to(settings, tag, credentials, override_registry, dry_run)

    @function(cache="never")
    async def deploy(
        self,
        env: EnvArg,
        branch: BranchArg = "",
        version: VersionArg = "",
        commit: CommitArg = "",
        service: ServiceArg = None,
        platform: PlatformArg = None,
        base: BaseArg = None,
        registry: RegistryArg = "",
        override: OverrideArg = None,
        aws_access_key_id: AwsKeyIdArg = None,
        aws_secret_access_key: AwsSecretArg = None,
        aws_session_token: AwsTokenArg = None,
        aws_endpoint_url: AwsEndpointArg = "",
        gcp_access_token: GcpTokenArg = None,
        gcp_credentials: GcpCredentialsArg = None,
        gcp_endpoint: GcpEndpointArg = "",
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Publish, then roll out by digest: CodeDeploy Blue/Green on AWS and rolling MIG updates on GCP, at once."""
        chosen = catalogue.select(service_names(service) or None)
        targets = cloud_targets(
            aws_access_key_id, aws_secret_access_key, aws_session_token, aws_endpoint_url,
            gcp_access_token, gcp_credentials, gcp_endpoint,
        ).checked(chosen)
        settings, published = await self._publish(
            env, branch, version, commit, service, platform, base, registry, override, targets.credentials, False
        )
        by_name = {p.service: p.pinned for p in published}
        return await self._roll_out(settings, targets, [(s, by_name[s.name]) for s in chosen], False, format)

    @function(cache="never")
    async def rollback(
        self,
        env: EnvArg,
        service: ServiceArg = None,
        override: OverrideArg = None,
        aws_access_key_id: AwsKeyIdArg = None,
        aws_secret_access_key: AwsSecretArg = None,
        aws_session_token: AwsTokenArg = None,
        aws_endpoint_url: AwsEndpointArg = "",
        gcp_access_token: GcpTokenArg = None,
        gcp_credentials: GcpCredentialsArg = None,
        gcp_endpoint: GcpEndpointArg = "",
        format: FormatArg = OutputFormat.text,
    ) -> str:
        """Put every selected service back on its previous successful release."""
        chosen = catalogue.select(service_names(service) or None)
        targets = cloud_targets(
            aws_access_key_id, aws_secret_access_key, aws_session_token, aws_endpoint_url,
            gcp_access_token, gcp_credentials, gcp_endpoint,
        ).checked(chosen)
        settings = await self.settings(env, override)
        return await self._roll_out(settings, targets, [(s, None) for s in chosen], True, format)

    async def _roll_out(self, settings: Settings, targets: Targets, releases, rollback: bool, format) -> str:
        """Run the drivers for every (service, image) at once; the summary, or ReleaseFailed carrying it."""
        drivers = release.Drivers(settings, targets, *await release.deploy_files(self.source))
        results = await release.run(releases, drivers, rollback=rollback)
        return release.check_outcomes(results, release.report(results, format))
