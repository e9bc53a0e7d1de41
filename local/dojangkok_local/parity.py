"""Parity between the documented and automated `dagger call …` lines and the module the real CLI loads.

GitHub Actions, the README and docs/ spell out `dagger call` commands by hand. This module finds every one of them
(workflow `run:` scripts, dagger/dagger-for-github `call:`/`args:` inputs, Markdown code blocks) and runs each
through the released `dagger` CLI with `--help` appended: the CLI loads the module, walks the chain of functions
and parses every flag, so an unknown function, an unknown flag or a bad enum value fails here, not in a deploy.
Shell variables are replaced by sample values first (`$VERSION` -> v1.0.2); an unknown one is a problem too.

    python -m dojangkok_local.parity                 # workflows, README and docs/ of the repository
    python -m dojangkok_local.parity FILE...         # only these files
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import re
import shlex
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from dojangkok_local import ROOT
from dojangkok_local.engine.cli import dagger

DAGGER_ACTION = "dagger/dagger-for-github"

# `dagger` flags that are not module arguments (dagger v0.21.8, cmd/dagger: installGlobalFlags,
# moduleAddFlags and the flags every `call` sub-command adds). True = the flag takes a value.
DAGGER_CLI_FLAGS: dict[str, bool] = {
    "--workdir": True,
    "--progress": True,
    "--lock": True,
    "--interactive-command": True,
    "--x-release": True,
    "--dot-output": True,
    "--dot-focus-field": True,
    "--mod": True,
    "-m": True,
    "--allow-llm": True,
    "--output": True,
    "-o": True,
    "--verbose": False,
    "-v": False,
    "-vv": False,
    "-vvv": False,
    "--quiet": False,
    "-q": False,
    "-qq": False,
    "--silent": False,
    "-s": False,
    "--debug": False,
    "-d": False,
    "--interactive": False,
    "-i": False,
    "--web": False,
    "-w": False,
    "--no-exit": False,
    "-E": False,
    "--auto-apply": False,
    "-y": False,
    "--dot-show-internal": False,
    "--cloud": False,
    "--scale-out": False,
    "--no-mod": False,
    "-M": False,
    "--eager-runtime": False,
    "--json": False,
    "-j": False,
    "--help": False,
    "-h": False,
}

SHELL_OPERATORS = {"|", "||", "&", "&&", ";", ";;", ">", ">>", "<", "<<", "<<<", "2>", "2>&1", "&>", ")", "}"}

# `${{ … }}` in a workflow is substituted by GitHub before any shell sees it; keep it one word.
GHA_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
# `${NAME:+words}`: words that appear only when NAME is set, e.g. an emulator endpoint from a repository variable
# that is unset on GitHub. A line is checked as GitHub runs it: without them.
WHEN_SET = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\+[^}]*\}")


# --------------------------------------------------------------------------- finding calls


@dataclasses.dataclass(frozen=True)
class Call:
    """One `dagger call …` as written somewhere: `argv` is everything after `call`."""

    path: str
    line: int
    argv: tuple[str, ...]

    @property
    def text(self) -> str:
        return "dagger call " + " ".join(self.argv)

    def where(self) -> str:
        return f"{self.path}:{self.line}"


def calls_in_shell(text: str, path: str, first_line: int) -> Iterator[Call]:
    """`dagger … call …` commands in a shell script; `first_line` is the script's first line in its file."""
    logical, start = "", None
    for offset, raw in enumerate(text.splitlines()):
        if start is None:
            start = first_line + offset
        if raw.rstrip().endswith("\\"):
            logical += raw.rstrip()[:-1] + " "
            continue
        logical += raw
        yield from _calls_in_command_line(logical, path, start)
        logical, start = "", None
    if logical.strip() and start is not None:
        yield from _calls_in_command_line(logical, path, start)


def _calls_in_command_line(line: str, path: str, line_number: int) -> Iterator[Call]:
    tokens = _split(line)
    for index, word in enumerate(tokens):
        # `out=$(dagger …` is one word to shlex: what follows the last `(` or backtick is the command.
        command = re.sub(r"^.*[(`]", "", word)
        if command != "dagger" and not command.endswith("/dagger"):
            continue
        if command == word and index > 0 and not _starts_a_command(tokens[index - 1]):
            continue  # an argument, e.g. `echo dagger call …`
        # dagger [global flags] call ARGS — anything else (dagger version, dagger functions) is not ours.
        position = index + 1
        while position < len(tokens) and tokens[position].startswith("-"):
            flag = tokens[position].split("=", 1)[0]
            takes_value = DAGGER_CLI_FLAGS.get(flag, False) and "=" not in tokens[position]
            position += 2 if takes_value else 1
        if position < len(tokens) and tokens[position] == "call":
            yield Call(path, line_number, tuple(_until_operator(tokens[position + 1 :])))


def _starts_a_command(previous: str) -> bool:
    """Whether the word after `previous` is in command position."""
    return (
        previous in SHELL_OPERATORS
        or previous in ("then", "do", "else", "time", "exec", "env", "command", "!", "{")
        or previous.endswith((";", "&&", "||", "|"))
        or re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", previous) is not None  # VAR=value dagger …
    )


def _split(line: str) -> list[str]:
    line = GHA_EXPRESSION.sub("GITHUB_EXPRESSION", line)
    line = WHEN_SET.sub("", line)
    lexer = shlex.shlex(line, posix=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    try:
        return list(lexer)
    except ValueError:  # an unbalanced quote: fall back to whitespace, still better than nothing
        return line.split("#", 1)[0].split()


def _until_operator(tokens: list[str]) -> list[str]:
    argv = []
    for word in tokens:
        if word in SHELL_OPERATORS or word.startswith(("|", ">", "2>", "&")):
            break
        if word.endswith(";"):
            argv.append(word[:-1])
            break
        argv.append(word)
    return argv


def calls_in_workflow(path: Path, display: str | None = None) -> list[Call]:
    """Every `dagger call` in a workflow: `run:` scripts and dagger-for-github `call:`/`args:` inputs."""
    display = display or str(path)
    root = yaml.compose(path.read_text(encoding="utf-8"))
    calls: list[Call] = []
    for step in _mappings(root):
        values = {key.value: value for key, value in step.value if isinstance(key, yaml.ScalarNode)}
        run = values.get("run")
        if isinstance(run, yaml.ScalarNode):
            calls.extend(calls_in_shell(run.value, display, _first_content_line(run)))
        uses = values.get("uses")
        with_ = values.get("with")
        if isinstance(uses, yaml.ScalarNode) and uses.value.split("@")[0] == DAGGER_ACTION:
            calls.extend(_calls_in_dagger_action(with_, display))
    return calls


def _calls_in_dagger_action(with_: yaml.Node | None, path: str) -> Iterator[Call]:
    inputs: dict[str, yaml.ScalarNode] = {}
    if isinstance(with_, yaml.MappingNode):
        inputs = {
            k.value: v for k, v in with_.value if isinstance(k, yaml.ScalarNode) and isinstance(v, yaml.ScalarNode)
        }
    module = inputs.get("module")
    if module is not None and module.value not in ("", "."):
        return  # another module: not ours to check
    verb = inputs["verb"].value if "verb" in inputs else "call"
    # The action joins `call`/`args` onto one command line, turning newlines (and `\`+newline) into spaces.
    for key in ("call", "args"):
        node = inputs.get(key)
        if node is None or not node.value.strip():
            continue
        if key == "args" and verb != "call":
            continue
        one_line = re.sub(r"\\?\n", " ", node.value)
        yield Call(path, _first_content_line(node), tuple(_until_operator(_split(one_line))))
        return  # the action uses `args` only when `call` is empty, and `call` always means verb call


def _mappings(node: yaml.Node) -> Iterator[yaml.MappingNode]:
    if isinstance(node, yaml.MappingNode):
        yield node
        for _, value in node.value:
            yield from _mappings(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _mappings(item)


def _first_content_line(node: yaml.ScalarNode) -> int:
    # A block scalar (`run: |`) starts on the line after its indicator; marks are 0-based.
    return node.start_mark.line + (2 if node.style in ("|", ">") else 1)


FENCE = re.compile(r"^\s*(```+|~~~+)")


def calls_in_markdown(path: Path, display: str | None = None) -> list[Call]:
    """Every `dagger call` inside fenced code blocks (a leading `$ ` prompt is allowed)."""
    display = display or str(path)
    calls: list[Call] = []
    fence: str | None = None
    block: list[str] = []
    block_start = 0
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, block, block_start = match.group(1), [], number + 1
        elif fence is not None and match and match.group(1).startswith(fence[0]) and len(match.group(1)) >= len(fence):
            calls.extend(calls_in_shell("\n".join(block), display, block_start))
            fence = None
        elif fence is not None:
            block.append(re.sub(r"^\s*\$\s+", "", line))
    return calls


def calls_in(paths: Iterable[Path], root: Path | None = None) -> list[Call]:
    calls: list[Call] = []
    for path in paths:
        display = str(path.relative_to(root)) if root and path.is_relative_to(root) else str(path)
        if path.suffix in (".yml", ".yaml"):
            calls.extend(calls_in_workflow(path, display))
        elif path.suffix == ".md":
            calls.extend(calls_in_markdown(path, display))
        else:
            msg = f"{path}: parity reads workflows (.yml/.yaml) and Markdown (.md) only"
            raise ValueError(msg)
    return calls


# --------------------------------------------------------------------------- checking

# What the workflows' and docs' variables stand for when a line is checked (the CLI validates enums and flags).
SAMPLES = {
    "BRANCH": "main",
    "VERSION": "v1.0.2",
    "COMMIT": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
    "COMMIT_TIME": "2026-12-07T09:30:00+09:00",
    "PLATFORM": "linux/arm64",
    "IMAGES": f"vllm/linux/amd64@sha256:{'a' * 64},frontend/linux/arm64@sha256:{'b' * 64}",
    "TARGET_ENV": "prd",
    "BREAK_LOCK": "false",
    "ACTOR": "octocat (run 1234)",
    "SIGNER": "^https://github.com/dojangkok/dojangkok/\\.github/workflows/deploy\\.yml@refs/heads/main$",
    "REPOSITORY": "https://github.com/dojangkok/dojangkok",
    "GOOGLE_APPLICATION_CREDENTIALS": "/dev/null",
    "GITHUB_STEP_SUMMARY": "/dev/null",
    "(git rev-parse HEAD)": "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
}
VARIABLE = re.compile(r"\$(\([^)]*\)|\{[A-Za-z_][A-Za-z0-9_]*\}|[A-Za-z_][A-Za-z0-9_]*)")


@dataclasses.dataclass(frozen=True)
class Problem:
    call: Call
    message: str

    def __str__(self) -> str:
        return f"{self.call.where()}: {self.message}\n    {self.call.text}"


def concrete(call: Call) -> list[str]:
    """The call's words with every shell variable replaced by its sample; KeyError names an unknown one."""

    def sample(match: re.Match) -> str:
        name = match.group(1).strip("{}")
        if name not in SAMPLES:
            raise KeyError(match.group(0))
        return SAMPLES[name]

    return [VARIABLE.sub(sample, word) for word in call.argv]


def check_call(call: Call) -> Problem | None:
    """Run the call through the real CLI with --help; a Problem with the CLI's error when it refuses it."""
    try:
        argv = concrete(call)
    except KeyError as unknown:
        return Problem(call, f"no sample value for {unknown.args[0]}: add it to parity.SAMPLES")
    if "GITHUB_EXPRESSION" in argv:
        return Problem(call, "a ${{ }} expression in a dagger call: pass it through env: instead")
    result = dagger("call", *argv, "--help", check=False)
    if result.returncode == 0:
        return None
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    return Problem(call, (errors[-1] if errors else result.stderr.strip().splitlines()[-1]).split(" [traceparent")[0])


def check(calls: Iterable[Call], workers: int = 4) -> list[Problem]:
    """Every line through the CLI, each distinct one once (a line copied to several places is one CLI call); a
    problem is reported at every place the line is."""
    calls = list(calls)
    distinct = list({call.argv: call for call in calls}.values())
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        found = dict(zip((c.argv for c in distinct), pool.map(check_call, distinct), strict=True))
    return [Problem(call, problem.message) for call in calls if (problem := found[call.argv]) is not None]


def default_sources(root: Path = ROOT) -> list[Path]:
    """The workflows, the README and the docs: everywhere a user or a runner copies a command from."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    readme = root / "README.md"
    return workflows + ([readme] if readme.exists() else []) + sorted((root / "docs").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    paths = [Path(a).resolve() for a in argv] or default_sources()
    calls = calls_in(paths, ROOT)
    problems = check(calls)
    for problem in problems:
        print(problem)
    print(f"parity: {len(calls)} dagger call line(s) in {len(paths)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
