"""The repository's own workflow files, run by a real Actions runner implementation on this host: nektos/act.

act (built once from the Go module proxy at ACT_VERSION) runs each job on the host (`-P LABEL=-self-hosted` for every
runner label the workflows name: no Docker; an arm64 runner's builds run under the host's QEMU) with the actions the
workflows pin, unpacked from the dependency mirror (../shared/mirror/actions, their exact SHAs) and handed to it as
local copies, so nothing is fetched. `dagger` on PATH is the released CLI scripts/engine installs, pointed at the
local engine: dagger/dagger-for-github finds the version the workflows ask for and skips its download.

    python -m dojangkok_local.act ci.yml pull_request --job module     # (scripts/act) on a clean clone of HEAD
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from dojangkok_local import ROOT, engine
from dojangkok_local.bases import CACHE, exclusive, go_tool

ACT = "github.com/nektos/act"
ACT_VERSION = "v0.2.89"
RUNNERS = ("ubuntu-24.04", "ubuntu-24.04-arm")  # the GitHub-hosted runner labels the workflows use
WORKFLOWS = ROOT / ".github" / "workflows"
MIRROR = Path(os.environ.get("DOJANGKOK_MIRROR", ROOT.parent / "shared" / "mirror")) / "actions"
USES = re.compile(r"^\s*(?:-\s+)?uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})\b", re.MULTILINE)


class MissingAction(SystemExit):
    """A workflow pins an action the mirror has no copy of."""


def pinned() -> set[str]:
    """Every `owner/repo@sha` the workflows use."""
    return {f"{repo}@{sha}" for path in WORKFLOWS.glob("*.yml") for repo, sha in USES.findall(path.read_text())}


def actions() -> dict[str, Path]:
    """`owner/repo@sha` -> the local copy act runs, for every action the workflows pin (unpacked once)."""
    copies = {}
    for action in sorted(pinned()):
        repo, _, sha = action.partition("@")
        name = f"{repo.replace('/', '+', 1)}@{sha}"
        archive = MIRROR / f"{name}.tar.gz"
        if not archive.exists():
            raise MissingAction(f"the workflows pin {action}, and {MIRROR} has no {archive.name}: add that action's "
                                "archive at that SHA to the mirror (its README says how), or pin a SHA it holds")
        copies[action] = unpacked(archive, name)
    return copies


def unpacked(archive: Path, name: str) -> Path:
    target = CACHE / "actions" / name
    with exclusive(target):
        if not target.exists():
            with tempfile.TemporaryDirectory(dir=target.parent) as scratch, tarfile.open(archive) as tar:
                tar.extractall(scratch, filter="data")  # the archive holds one folder: NAME/
                (Path(scratch) / name).rename(target)
    return target


def act() -> Path:
    return go_tool(ACT, ACT_VERSION)


@dataclass(frozen=True)
class Run:
    """What act reported: each job's and each step's result (from its JSON log), and the steps' output."""

    returncode: int
    jobs: dict[str, str] = field(default_factory=dict)  # job id -> success | failure
    steps: dict[tuple[str, str], str] = field(default_factory=dict)  # (job id, step name) -> result
    output: dict[tuple[str, str], str] = field(default_factory=dict)  # (job id, step name) -> what it printed

    @classmethod
    def read(cls, returncode: int, log: str) -> Run:
        run = cls(returncode)
        for line in log.splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                continue
            job, step = entry.get("jobID", ""), entry.get("step", "")
            if "jobResult" in entry:
                run.jobs[job] = entry["jobResult"]
            elif entry.get("stage") == "Main" and len(entry.get("stepID", [])) == 1 and "stepResult" in entry:
                run.steps[job, step] = entry["stepResult"]
            if entry.get("raw_output"):
                run.output[job, step] = run.output.get((job, step), "") + entry.get("msg", "")
        return run


def clean_clone(target: Path, revision: str = "HEAD") -> Path:
    """A clone of this repository at `revision`, nothing else in it: what a runner checks out."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(target)], check=True)
    subprocess.run(["git", "-C", str(target), "checkout", "--quiet", revision], check=True)
    return target


def run(checkout: Path, workflow: str, event: str, payload: dict, job: str = "", scratch: Path | None = None,
        env: dict[str, str] | None = None, *, variables: dict[str, str] | None = None,
        inputs: dict[str, str] | None = None, actor: str = "octocat", matrix: dict[str, str] | None = None) -> Run:
    """Run `workflow` (a file of .github/workflows) of `checkout` for `event` with `payload`, as act does on GitHub's
    behalf; only `job` when given, only its matrix legs with `matrix`'s values when given. The engine's client
    environment and `env` reach every step; `variables` are the repository's (`vars.*`), `inputs` a dispatch's."""
    scratch = Path(scratch or tempfile.mkdtemp(prefix="act-"))
    scratch.mkdir(parents=True, exist_ok=True)
    event_file = scratch / "event.json"
    event_file.write_text(json.dumps(payload))
    client = {**engine.client_env(), **(env or {})}
    argv = [str(act()), event, "--json", "--eventpath", str(event_file),
            "--workflows", str(checkout / ".github" / "workflows" / workflow),
            "--action-offline-mode", "--action-cache-path", str(scratch / "action-cache")]
    for runner in RUNNERS:
        argv += ["--platform", f"{runner}=-self-hosted"]
    for action, copy in actions().items():
        argv += ["--local-repository", f"{action}={copy}"]
    for flag, values in (("--env", client), ("--var", variables or {}), ("--input", inputs or {})):
        for key, value in values.items():
            argv += [flag, f"{key}={value}"]
    for key, value in (matrix or {}).items():
        argv += ["--matrix", f"{key}:{value}"]
    argv += ["--actor", actor]
    if job:
        argv += ["--job", job]
    cli = Path(client.get("_EXPERIMENTAL_DAGGER_CLI_BIN", shutil.which("dagger") or "dagger")).parent
    environ = {**os.environ, "PATH": f"{cli}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(argv, cwd=checkout, env=environ, capture_output=True, text=True)
    (scratch / "act.log").write_text(done.stdout + done.stderr)
    return Run.read(done.returncode, done.stdout + "\n" + done.stderr)


def head(checkout: Path) -> str:
    """The commit the checkout is at: what GitHub's events name as the run's sha."""
    return subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], check=True, capture_output=True,
                          text=True).stdout.strip()


def pull_request(checkout: Path, branch: str = "feature") -> dict:
    """The payload GitHub sends for a pull request from `branch` into main, at the checkout's commit."""
    return {"number": 1, "action": "synchronize",
            "pull_request": {"number": 1, "head": {"ref": branch, "sha": head(checkout)}, "base": {"ref": "main"}}}


PAYLOADS = {"pull_request": pull_request}


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/act", description=__doc__.split("\n\n")[0])
    parser.add_argument("workflow", help="a file of .github/workflows, e.g. ci.yml")
    parser.add_argument("event", choices=sorted(PAYLOADS), help="the event GitHub would send")
    parser.add_argument("--job", default="", help="only this job (its id in the workflow)")
    args = parser.parse_args()
    if not (WORKFLOWS / args.workflow).is_file():
        parser.error(f"no workflow {args.workflow!r} in {WORKFLOWS}: choose one of "
                     f"{', '.join(sorted(p.name for p in WORKFLOWS.glob('*.yml')))}")
    engine.attach()
    scratch = Path(tempfile.mkdtemp(prefix="dojangkok-act-"))
    checkout = clean_clone(scratch / "checkout")
    result = run(checkout, args.workflow, args.event, PAYLOADS[args.event](checkout), args.job, scratch)
    for (job, step), outcome in result.steps.items():
        print(f"{job:12} {outcome:8} {step}")
    for job, outcome in result.jobs.items():
        print(f"{job:12} job {outcome}")
    print(f"log: {scratch / 'act.log'}")
    sys.exit(result.returncode)


if __name__ == "__main__":
    main()
