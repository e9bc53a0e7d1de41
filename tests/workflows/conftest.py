"""Workflows-tier fixtures: the repository's own workflow files, run by nektos/act (dojangkok_local.act) against the
local engine that scripts/engine starts."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dojangkok_local import act


@pytest.fixture
def checkout(tmp_path) -> Path:
    """A clean clone of this repository at HEAD: what a runner checks out."""
    return act.clean_clone(tmp_path / "checkout")


@pytest.fixture
def failing_frontend_test(checkout) -> Path:
    """The checkout with one more commit: a frontend test that fails."""
    (checkout / "services" / "frontend" / "tests" / "deliberately_broken.test.js").write_text(
        'import { expect, test } from "vitest";\n\n'
        'test("the deposit comes back in full", () => {\n  expect(1 + 1, "deliberately broken").toBe(3);\n});\n'
    )
    subprocess.run(["git", "-C", str(checkout), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(checkout), "-c", "user.name=dev", "-c", "user.email=dev@example.com",
                    "commit", "--quiet", "-m", "a frontend test that fails"], check=True)
    return checkout
