"""Local stand-ins for what this machine cannot reach: Docker and the engine image (engine/), Docker Hub (bases),
ECR and Artifact Registry (registry), AWS (aws*), GCP (gcp*). Nothing under ci/ imports any of it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "deploy" / "aws"  # what the CodeDeploy revisions bundle


def startup_template() -> str:
    """The GCP instances' startup script template of this checkout."""
    return (ROOT / "deploy" / "gcp" / "startup-script.sh").read_text()


# The emulators answer in milliseconds: harnesses poll them this often, through the setting users override.
POLL_SECONDS = 0.2


def emulator_polls(*envs: str) -> dict[str, str]:
    """The overrides that poll the emulators every POLL_SECONDS in these environments."""
    return {f"DOJANGKOK_{env.upper()}_TIMEOUTS_POLL_SECONDS": str(POLL_SECONDS) for env in envs}


def settings(env: str, environ: Mapping[str, str] | None = None):
    """The repository's environment settings, with DOJANGKOK_* variables applied: `environ`, else this process'
    (harness only: the module's functions see nothing but their arguments)."""
    from dojangkok.environments import SETTINGS_FILE, load

    return load(env, text=(ROOT / SETTINGS_FILE).read_text(), environ=os.environ if environ is None else environ)


def planned_calls(service: str, env: str = "dev", environ: Mapping[str, str] | None = None) -> list[str]:
    """The cloud API calls `dagger call plan` lists for deploying `service` to `env` with DOJANGKOK_* `environ`;
    images in a stand-in registry, as on the emulators, so no ECR login."""
    from dojangkok.environments import SETTINGS_FILE
    from dojangkok.plan import make_plan

    plan = make_plan(env, branch="main", services=[service], registry_override="127.0.0.1:5000",
                     settings_text=(ROOT / SETTINGS_FILE).read_text(), overrides=environ or {})
    return list(plan.services[0].api_calls)
