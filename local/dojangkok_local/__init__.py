"""Local stand-ins for what this machine cannot reach: Docker and the engine image (engine/), Docker Hub (bases),
ECR and Artifact Registry (registry), AWS (aws*), GCP (gcp*). Nothing under ci/ imports any of it."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUNDLE_DIR = ROOT / "deploy" / "aws"  # what the CodeDeploy revisions bundle


def startup_template() -> str:
    """The GCP instances' startup script template of this checkout."""
    return (ROOT / "deploy" / "gcp" / "startup-script.sh").read_text()


def settings(env: str):
    """The repository's environment settings, with DOJANGKOK_* variables of this process applied (harness only:
    the module's functions see nothing but their arguments)."""
    from dojangkok.environments import SETTINGS_FILE, load

    return load(env, text=(ROOT / SETTINGS_FILE).read_text(), environ=os.environ)
