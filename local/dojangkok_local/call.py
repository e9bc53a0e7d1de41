"""`dagger call` for this module where the dagger CLI cannot load a Python module (see README, "Local engine").

It reads the same function registry the Python SDK builds from `@dagger.function` and runs the functions
in-process against the local engine, with the CLI's spelling: kebab-case flags, repeatable list flags,
secrets as `env:NAME` / `file:PATH` / `cmd:COMMAND`, chaining into returned objects, and `export --path`
for directories and files.

    python -m dojangkok_local.call functions
    python -m dojangkok_local.call plan --env prd --version v1.0.2 --commit a1b2c3d
    python -m dojangkok_local.call test reports export --path ./reports
"""

from __future__ import annotations

import asyncio
import enum
import os
import subprocess
import sys
import types
import typing
from pathlib import Path

import dagger
from dagger import dag

from . import engine
from .parity import cli_name


class UsageError(Exception):
    pass


def source_directory() -> dagger.Directory:
    """The repository as the module's DefaultPath + Ignore would give it to `dagger call`."""
    from dojangkok.main import SOURCE_INCLUDE

    include = [p[1:] for p in SOURCE_INCLUDE if p.startswith("!")]
    exclude = [p for p in SOURCE_INCLUDE if not p.startswith("!") and p != "*"]
    return dag.host().directory(str(engine.ROOT), include=include, exclude=exclude)


def functions_of(cls: type) -> dict[str, typing.Any]:
    registry = getattr(cls, "__dagger_object_type__", None)
    if registry is None:
        return {}
    return {cli_name(name): fn for name, fn in registry.functions.items() if name}


def _unwrap(annotation: typing.Any) -> typing.Any:
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else annotation
    return annotation


def secret(spec: str, name: str) -> dagger.Secret:
    kind, _, value = spec.partition(":")
    if kind == "env":
        if value not in os.environ:
            raise UsageError(f"--{name} env:{value}: the variable is not set")
        plaintext = os.environ[value]
    elif kind == "file":
        plaintext = Path(value).read_text()
    elif kind == "cmd":
        plaintext = subprocess.run(value, shell=True, check=True, capture_output=True, text=True).stdout.strip()  # noqa: S602
    else:
        raise UsageError(f"--{name}: a secret is env:NAME, file:PATH or cmd:COMMAND, not {spec.split(':')[0]!r}")
    return dag.set_secret(f"call-{name}", plaintext)


def convert(value: str, annotation: typing.Any, name: str) -> typing.Any:
    annotation = _unwrap(annotation)
    if annotation is dagger.Secret:
        return secret(value, name)
    if annotation is dagger.Platform:
        return dagger.Platform(value)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        try:
            return annotation[value]
        except KeyError:
            raise UsageError(f"--{name} {value}: choose one of {', '.join(annotation.__members__)}") from None
    if annotation is int:
        return int(value)
    return value


def bind(fn: typing.Any, tokens: list[str]) -> tuple[dict[str, typing.Any], list[str]]:
    """Keyword arguments for ``fn`` from ``tokens``; returns the tokens left for the next chained call."""
    params = {cli_name(p.name): p for p in fn.parameters.values()}
    kwargs: dict[str, typing.Any] = {}
    while tokens and tokens[0].startswith("--"):
        flag, _, inline = tokens.pop(0)[2:].partition("=")
        if flag not in params:
            raise UsageError(f"{cli_name(fn.name)}: unknown flag --{flag}; known: {', '.join(sorted(params))}")
        param = params[flag]
        annotation = _unwrap(param.resolved_type)
        if annotation is bool:
            kwargs[param.name] = inline.lower() != "false" if inline else True
            continue
        value = inline or (tokens.pop(0) if tokens else "")
        if typing.get_origin(annotation) is list:
            (item,) = typing.get_args(annotation)
            kwargs.setdefault(param.name, []).append(convert(value, item, flag))
        else:
            kwargs[param.name] = convert(value, annotation, flag)
    missing = [cli_name(p.name) for p in fn.parameters.values() if not (p.has_default or p.is_nullable)]
    missing = [m for m in missing if params[m].name not in kwargs]
    if missing:
        raise UsageError(f"{cli_name(fn.name)}: missing --{', --'.join(missing)}")
    return kwargs, tokens


async def run(tokens: list[str]) -> str:
    from dojangkok.main import Dojangkok

    value: typing.Any = Dojangkok(source=source_directory())
    while tokens:
        name = tokens.pop(0)
        if isinstance(value, dagger.Directory | dagger.File) and name == "export":
            kwargs, tokens = {"path": tokens[1]} if tokens[:1] == ["--path"] else {}, tokens[2:]
            if "path" not in kwargs:
                raise UsageError("export needs --path")
            return await value.export(**kwargs)
        fns = functions_of(type(value))
        if name not in fns:
            raise UsageError(f"{type(value).__name__} has no function {name!r}; it has: {', '.join(sorted(fns))}")
        kwargs, tokens = bind(fns[name], tokens)
        value = getattr(value, fns[name].original_name)(**kwargs)
        if asyncio.iscoroutine(value):
            value = await value
    return await show(value)


async def show(value: typing.Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dagger.Container):
        await value.sync()
        return f"Container evaluated ({await value.platform()})"
    if isinstance(value, dagger.Directory):
        return "\n".join(await value.entries())
    if hasattr(type(value), "__dagger_object_type__") and "summary" in functions_of(type(value)):
        summary = value.summary()
        return await summary if asyncio.iscoroutine(summary) else summary
    return repr(value)


def describe() -> str:
    from dojangkok.main import Dojangkok

    lines = ["Name      Description"]
    for name, fn in sorted(functions_of(Dojangkok).items()):
        lines.append(f"{name:9} {(fn.doc or '').splitlines()[0] if fn.doc else ''}")
    return "\n".join(lines)


def function_help(name: str) -> str:
    """What `dagger call NAME --help` shows: the function's doc and every argument with its own doc."""
    from dojangkok.main import Dojangkok

    fns = functions_of(Dojangkok)
    if name not in fns:
        raise UsageError(f"no function {name!r}; functions: {', '.join(sorted(fns))}")
    fn = fns[name]
    lines = [fn.doc or "", "", "ARGUMENTS"]
    for param in fn.parameters.values():
        annotation = _unwrap(param.resolved_type)
        kind = getattr(annotation, "__name__", str(annotation))
        required = "" if (param.has_default or param.is_nullable) else " [required]"
        lines.append(f"  --{cli_name(param.name):24} {kind:12} {param.doc or ''}{required}")
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "functions":
        print(describe())
        return 0
    if "--help" in argv[1:2]:
        print(function_help(argv[0]))
        return 0
    from dojangkok.build import PublishError
    from dojangkok.release import ReleaseFailed
    from dojangkok.testing import TestsFailed

    engine.start()
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        try:
            print(await run(list(argv)))
        except (UsageError, ValueError) as exc:  # bad input: nothing was built, pushed or deployed
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except (TestsFailed, PublishError, ReleaseFailed) as exc:  # the run itself failed; the message says what
            print(f"failed: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
