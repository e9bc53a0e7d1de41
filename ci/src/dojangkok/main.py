"""The Dagger module's main object: what `dagger functions` lists and `dagger call` runs.

Thin by design: the logic lives in plain modules (tags, environments, plan, catalogue) with their own unit tests;
this layer only turns `dagger call` arguments into their inputs.
"""

import os
from datetime import UTC, datetime
from typing import Annotated

import dagger
from dagger import DefaultPath, Doc, Ignore, field, function, object_type

from .environments import SETTINGS_FILE, Environment, parse_overrides
from .plan import OutputFormat, check_inputs, make_plan

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
        service: Annotated[
            list[str] | None,
            Doc("Plan only these services (repeat or comma-separate); default: every built service"),
        ] = None,
        format: Annotated[OutputFormat, Doc("text (tables, default) or json (the same data)")] = OutputFormat.text,
        registry: Annotated[
            str,
            Doc("Send every image to this registry instead of ECR / Artifact Registry, e.g. 127.0.0.1:5000"),
        ] = "",
        override: Annotated[
            list[str] | None,
            Doc(
                f"Override a setting of {SETTINGS_FILE} for this run: NAME=VALUE with the environment variable's "
                "name, e.g. DOJANGKOK_PRD_AWS_REGION=us-east-1"
            ),
        ] = None,
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
