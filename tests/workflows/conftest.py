"""Workflows-tier fixtures: the repository's own workflow files, run by nektos/act (dojangkok_local.act) against the
local engine that scripts/engine starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from dojangkok_local import act


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A clean clone of this repository at HEAD: what a runner checks out."""
    return act.clean_clone(tmp_path / "checkout")
