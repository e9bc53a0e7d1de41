"""Every test belongs to exactly one tier, so `pytest -m unit|emulator|engine` runs each alone and together
they run everything (an unmarked test would silently drop out of `scripts/test`)."""

import pytest

TIERS = ("unit", "emulator", "engine")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tiers = [t for t in TIERS if item.get_closest_marker(t)]
        if len(tiers) != 1:
            raise pytest.UsageError(f"{item.nodeid}: mark it with exactly one tier of {', '.join(TIERS)}, not {tiers}")
