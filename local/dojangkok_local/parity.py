"""Parity between the documented/automated `dagger call …` lines and the module's real functions.

GitHub Actions and the README both spell out `dagger call` commands by hand. This module finds every
one of them (in workflow `run:` scripts, in dagger/dagger-for-github `call:`/`args:` inputs, and in
README code blocks) and checks function names and `--flags` against the signatures the Python SDK
registers for the module's main object, so a renamed function or argument breaks a unit test instead
of a production deploy.

    python -m dojangkok_local.parity                 # workflows, README, docs/ against dojangkok.main.Dojangkok
    python -m dojangkok_local.parity FILE...         # only these files

Signatures come from the SDK's own registry (`cls.__dagger_object_type__`, filled by
`@dagger.object_type` / `@dagger.function`), not from a second hand-written list, and names are
converted the way the CLI does it (GraphQL lowerCamel, then kebab-case).
"""

from __future__ import annotations

import dataclasses
import enum
import re
import shlex
import sys
import types
import typing
from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

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


# --------------------------------------------------------------------------- names


def cli_name(name: str) -> str:
    """The CLI spelling of an API name: `aws_region` / `awsRegion` → `aws-region`.

    The engine turns Python's snake_case into GraphQL lowerCamel and the CLI turns that into kebab-case;
    the CLI also normalises every flag a user types the same way, so `--awsRegion` works too.
    """
    words = re.sub(r"([a-z0-9])([A-Z])", r"\1-\2", name.strip("_"))
    words = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1-\2", words)
    return re.sub(r"[-_\s]+", "-", words).lower()


# --------------------------------------------------------------------------- signatures


@dataclasses.dataclass(frozen=True)
class Argument:
    name: str  # CLI spelling, without the leading `--`
    takes_value: bool  # False for booleans: `--dry-run`, not `--dry-run true`
    required: bool
    choices: tuple[str, ...] = ()  # an enum's members (names and values); empty = any value


@dataclasses.dataclass
class Function:
    name: str  # CLI spelling
    arguments: dict[str, Argument]
    returns: ObjectSignature | None  # None: a core type or a scalar, whose API we do not check


@dataclasses.dataclass
class ObjectSignature:
    name: str
    constructor: dict[str, Argument]
    functions: dict[str, Function] = dataclasses.field(default_factory=dict)


def object_signature(cls: type) -> ObjectSignature:
    """Read what `@dagger.object_type` registered for `cls` (and the objects its functions return)."""
    return _object_signature(cls, {})


def _object_signature(cls: type, seen: dict[type, ObjectSignature]) -> ObjectSignature:
    if cls in seen:
        return seen[cls]
    registered = getattr(cls, "__dagger_object_type__", None)
    if registered is None:
        msg = f"{cls.__qualname__} is not a @dagger.object_type class, so it has no functions to check against"
        raise TypeError(msg)
    constructor = registered.functions.get("")
    if constructor is None:
        from dagger.mod._resolver import Constructor  # what the SDK builds when it registers the module

        constructor = Constructor(registered.cls)
    signature = ObjectSignature(name=cls.__name__, constructor=_arguments(constructor))
    seen[cls] = signature
    for api_name, fn in registered.functions.items():
        if api_name == "":
            continue
        signature.functions[cli_name(api_name)] = Function(
            name=cli_name(api_name),
            arguments=_arguments(fn),
            returns=_returned_object(fn.return_type, seen),
        )
    return signature


def _arguments(fn: typing.Any) -> dict[str, Argument]:
    arguments = {}
    for parameter in fn.parameters.values():
        has_default = parameter.signature.default is not parameter.signature.empty
        argument = Argument(
            name=cli_name(parameter.name),
            takes_value=_unwrap_optional(parameter.resolved_type) is not bool,
            choices=_choices(parameter.resolved_type),
            # DefaultPath / DefaultAddress make an argument optional for the CLI though Python has no default.
            required=not (has_default or parameter.is_nullable or parameter.default_path or parameter.default_address),
        )
        arguments[argument.name] = argument
    return arguments


def _choices(annotation: typing.Any) -> tuple[str, ...]:
    annotation = _unwrap_optional(annotation)
    if typing.get_origin(annotation) is list and len(typing.get_args(annotation)) == 1:
        annotation = typing.get_args(annotation)[0]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return tuple(dict.fromkeys([m.name for m in annotation] + [str(m.value) for m in annotation]))
    return ()


def _unwrap_optional(annotation: typing.Any) -> typing.Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return annotation


def _returned_object(annotation: typing.Any, seen: dict[type, ObjectSignature]) -> ObjectSignature | None:
    annotation = _unwrap_optional(annotation)
    if isinstance(annotation, type) and hasattr(annotation, "__dagger_object_type__"):
        return _object_signature(annotation, seen)
    return None


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


@dataclasses.dataclass(frozen=True)
class Problem:
    call: Call
    message: str

    def __str__(self) -> str:
        return f"{self.call.where()}: {self.message}\n    {self.call.text}"


def check_call(call: Call, module: ObjectSignature) -> list[Problem]:
    """Function names and flags of one call against the module; empty when they all exist."""
    problems: list[Problem] = []
    argv = [word.strip("[]") for word in call.argv]  # usage notation in docs: [--service S]
    argv = [word for word in argv if word and word not in ("...", "…")]
    if any(word in ("-h", "--help") for word in argv):
        return []

    obj: ObjectSignature | None = module
    where = f"the {module.name} constructor"
    arguments = module.constructor
    given: set[str] = set()
    function: Function | None = None
    index = 0

    def missing_required() -> None:
        for argument in arguments.values():
            if argument.required and argument.name not in given:
                problems.append(Problem(call, f"{where} needs --{argument.name}, which is not given"))

    while index < len(argv):
        word = argv[index]
        if word.startswith("-") and word != "-":
            flag, has_inline_value = word.split("=", 1)[0], "=" in word
            name = cli_name(flag.lstrip("-")) if flag.startswith("--") else None
            argument = arguments.get(name) if name else None
            if argument is not None:
                given.add(argument.name)
                index += 1
                value = word.split("=", 1)[1] if has_inline_value else None
                if argument.takes_value and not has_inline_value:
                    value = argv[index] if index < len(argv) else None
                    index = _skip_value(argv, index)
                if argument.choices and value is not None:
                    problems.extend(Problem(call, m) for m in _bad_choices(where, argument, value))
                continue
            if flag in DAGGER_CLI_FLAGS:
                index += 1
                if DAGGER_CLI_FLAGS[flag] and not has_inline_value:
                    index = _skip_value(argv, index)
                continue
            known = ", ".join(f"--{a}" for a in sorted(arguments)) or "none"
            problems.append(Problem(call, f"{where} has no argument {flag} (it takes: {known})"))
            index += 1
            # Unknown, so its arity is unknown: take the next word as its value unless it names a function.
            following = function.returns if function is not None else obj
            next_functions = following.functions if following is not None else {}
            if not has_inline_value and index < len(argv) and not argv[index].startswith("-"):
                if argv[index] not in next_functions:
                    index = _skip_value(argv, index)
            continue

        # A word that is not a flag value: the next function in the chain.
        missing_required()
        if function is not None:
            obj = function.returns
        if obj is None:
            return problems  # chained onto a core type (Container, Directory…): the SDK's API, not ours
        function = obj.functions.get(word)
        if function is None:
            known = ", ".join(sorted(obj.functions)) or "none"
            problems.append(Problem(call, f"{obj.name} has no function {word!r} (it has: {known})"))
            return problems
        where, arguments, given = f"function {word!r}", function.arguments, set()
        index += 1

    if function is None:
        problems.append(Problem(call, "names no function: `dagger call` needs one, e.g. `dagger call plan --env dev`"))
        return problems
    missing_required()
    return problems


def _bad_choices(where: str, argument: Argument, value: str) -> list[str]:
    """A literal value of an enum argument must be one of its members; `dev|prd` in docs means either."""
    if any(marker in value for marker in ("$", "<", "GITHUB_EXPRESSION", "{", "*")):
        return []  # filled in at run time: not ours to judge
    allowed = ", ".join(argument.choices)
    return [
        f"{where} --{argument.name} has no value {choice!r} (it takes: {allowed})"
        for choice in re.split(r"[|,]", value)
        if choice and choice not in argument.choices
    ]


def _skip_value(argv: list[str], index: int) -> int:
    """Index after a flag's value; an unquoted `$(…)` may span several tokens."""
    if index >= len(argv):
        return index
    depth = argv[index].count("$(") - argv[index].count(")")
    index += 1
    while depth > 0 and index < len(argv):
        depth += argv[index].count("(") - argv[index].count(")")
        index += 1
    return index


def check(calls: Iterable[Call], module: ObjectSignature) -> list[Problem]:
    return [problem for call in calls for problem in check_call(call, module)]


def default_sources(root: Path) -> list[Path]:
    """The workflows, the README and the docs: everywhere a user or a runner copies a command from."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    readme = root / "README.md"
    return workflows + ([readme] if readme.exists() else []) + sorted((root / "docs").glob("*.md"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    root = Path(__file__).resolve().parents[2]
    paths = [Path(a).resolve() for a in argv] or default_sources(root)
    from dojangkok.main import Dojangkok  # the module as the engine loads it

    calls = calls_in(paths, root)
    problems = check(calls, object_signature(Dojangkok))
    for problem in problems:
        print(problem)
    print(f"parity: {len(calls)} dagger call line(s) in {len(paths)} file(s), {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
