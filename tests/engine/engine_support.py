"""Helpers shared by the engine-tier tests."""

from __future__ import annotations

import shutil

from dojangkok_local import engine


def source_copy(tmp_path, *services: str):
    """A copy of the repository's pipeline inputs with one service, to change without touching the checkout."""
    copy = tmp_path / "repo"
    for service in services:
        shutil.copytree(
            engine.ROOT / "services" / service,
            copy / "services" / service,
            ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "node_modules", ".next", "target"),
        )
    for part in ("dockerfiles", "deploy"):
        shutil.copytree(engine.ROOT / part, copy / part)
    shutil.copy(engine.ROOT / "dagger.json", copy)
    return copy
