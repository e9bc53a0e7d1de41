"""The harness runs a `dagger` command again only when the engine lost the module's source before running anything."""

from __future__ import annotations

import pytest
from dojangkok_local.engine import cli

pytestmark = pytest.mark.unit

LOST_SOURCE = ('! load contextual directory ".": failed to select host directory: '
               'bj2vl8dii92nnqkd4w0ie5muy: not found')


@pytest.fixture
def fake_dagger(tmp_path, monkeypatch):
    """A `dagger` on PATH that prints each run's stderr line from a script, then exits as told, counting its runs."""
    runs = tmp_path / "runs"
    script = tmp_path / "dagger"
    script.write_text(f"""#!/bin/sh
echo run >> {runs}
n=$(wc -l < {runs})
line=$(sed -n "${{n}}p" {tmp_path}/plan)
echo "${{line#* }}" >&2
[ "${{line%% *}}" = ok ] && echo result && exit 0
exit 1
""")
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    monkeypatch.setattr(cli, "client_env", dict)

    def plan(*lines: str):
        (tmp_path / "plan").write_text("".join(line + "\n" for line in lines))
        return lambda: len(runs.read_text().splitlines()) if runs.exists() else 0

    return plan


def test_a_lost_source_snapshot_is_run_again_until_the_command_runs(fake_dagger):
    runs = fake_dagger(f"fail {LOST_SOURCE}", "ok done")
    assert cli.call("plan") == "result\n"
    assert runs() == 2


def test_a_lost_source_snapshot_every_time_fails_after_the_last_attempt(fake_dagger):
    runs = fake_dagger(*[f"fail {LOST_SOURCE}"] * (cli.SNAPSHOT_RACE_ATTEMPTS + 1))
    with pytest.raises(cli.DaggerFailed, match="failed to select host directory"):
        cli.call("plan")
    assert runs() == cli.SNAPSHOT_RACE_ATTEMPTS


def test_any_other_failure_is_the_commands_own_and_is_not_repeated(fake_dagger):
    runs = fake_dagger("fail ! dev does not run commit d4d4 everywhere, nothing was pushed to prd", "ok done")
    result = cli.dagger("call", "promote", check=False)
    assert result.returncode == 1 and "nothing was pushed to prd" in result.stderr
    assert runs() == 1
