"""Every test belongs to exactly one tier, the folder it lives in (tests/unit, tests/emulator, tests/engine,
tests/workflows), so `pytest -m unit|emulator|engine|workflows` runs each alone, `pytest tests/TIER` collects no
more than it needs, and together they run everything (an unmarked test would silently drop out of `scripts/test`)."""

from pathlib import Path

import pytest

TIERS = ("unit", "emulator", "engine", "workflows")
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t)]
        folder = item.path.relative_to(HERE).parts[0]
        if tiers != [folder]:
            raise pytest.UsageError(f"{item.nodeid}: mark it with exactly its folder's tier, {folder}, not {tiers}")
