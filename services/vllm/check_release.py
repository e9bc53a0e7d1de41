#!/usr/bin/env python3
"""Check the launch configuration against the vLLM release the image pins, read from its wheel without a GPU.

A configuration that vLLM would refuse at start-up (a flag the release does not know, a model architecture it
cannot load, LoRA on an architecture without LoRA support in that release, a dtype it does not offer, a context
longer than the model's) must fail the build, not the first deploy. The wheel of the pinned version (pip download
--no-deps, no CUDA libraries) is read as source: the argument parsers, the model registry and the model classes
are parsed with `ast`, nothing is imported. Two layouts are understood: v0.4 (flags as `add_argument` literals,
`_MODELS` in models/__init__.py, LoRA by `supported_lora_modules`) and the later one (flags also from the
frontend's dataclass fields, registry.py, LoRA by the `SupportsLoRA` interface); a release read as neither fails
with a message saying so, so every bump is checked or refused.

    check_release.py WHEEL [--config serve.json] [--model-facts model.json]

Standard library only: it runs on the vLLM image's own Python (and on the local stand-in).
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import launch

HERE = Path(__file__).resolve().parent
PARSER_DIRS = ("vllm/engine/", "vllm/entrypoints/")
MODELS_DIR = "vllm/model_executor/models/"
CONFIG_DIR = "vllm/config"  # vllm/config.py (v0.4) or the package vllm/config/ (later)
READ = (*PARSER_DIRS, MODELS_DIR, CONFIG_DIR)
DTYPE_ANNOTATION = "ModelDType"


class ReleaseError(ValueError):
    """The wheel cannot be read as a vLLM release this checker understands."""


@dataclass
class Release:
    """What one vLLM release accepts, read from its source."""

    version: str
    sources: dict[str, str]  # path -> source, of the parts read
    flags: set[str] = field(default_factory=set)
    dtypes: set[str] = field(default_factory=set)
    architectures: dict[str, tuple[str, str]] = field(default_factory=dict)  # arch -> (module, class)
    classes: dict[str, list[tuple[str, ast.ClassDef]]] = field(default_factory=dict)  # name -> [(path, node)]

    @classmethod
    def from_wheel(cls, wheel: Path) -> Release:
        with zipfile.ZipFile(wheel) as archive:
            sources = {n: archive.read(n).decode("utf-8") for n in archive.namelist()
                       if n.startswith(READ) and n.endswith(".py")}
            metadata = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), "")
            version = next((line.split(":", 1)[1].strip() for line in archive.read(metadata).decode().splitlines()
                            if line.startswith("Version:")), "") if metadata else ""
        release = cls(version=version, sources=sources)
        release.read()
        return release

    def read(self) -> None:
        trees = {path: ast.parse(source) for path, source in self.sources.items()}
        for path, tree in trees.items():
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef):
                    self.classes.setdefault(node.name, []).append((path, node))
            if path.startswith(PARSER_DIRS):
                self._read_flags(tree)
            if path.startswith(MODELS_DIR) and path.endswith(("__init__.py", "registry.py")):
                self._read_registry(tree)
            self._read_dtypes(tree)
        if not self.flags or not self.architectures:
            raise ReleaseError(
                f"vLLM {self.version}: found {len(self.flags)} server flags and {len(self.architectures)} model "
                "architectures; this release's layout is not one check_release.py reads: teach it before the bump"
            )

    def _read_flags(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument":
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("--"):
                        self.flags.add(arg.value)
                for keyword in node.keywords:  # v0.4: add_argument('--dtype', choices=[...])
                    if keyword.arg == "choices" and any(
                        isinstance(a, ast.Constant) and a.value == "--dtype" for a in node.args
                    ) and isinstance(keyword.value, ast.List):
                        self.dtypes |= {e.value for e in keyword.value.elts if isinstance(e, ast.Constant)}
            # Later releases add the frontend's flags from its dataclass fields: --{field with dashes}.
            if isinstance(node, ast.ClassDef) and node.name.endswith("FrontendArgs"):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                        self.flags.add("--" + item.target.id.replace("_", "-"))

    def _read_registry(self, tree: ast.Module) -> None:
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if not isinstance(value, ast.Dict):
                continue
            for key, entry in zip(value.keys, value.values, strict=True):
                if (isinstance(key, ast.Constant) and isinstance(entry, ast.Tuple) and len(entry.elts) == 2
                        and all(isinstance(e, ast.Constant) for e in entry.elts)):
                    self.architectures.setdefault(key.value, (entry.elts[0].value, entry.elts[1].value))

    def _read_dtypes(self, tree: ast.Module) -> None:
        for node in tree.body:  # later releases: ModelDType = Literal["auto", "half", ...]
            if (isinstance(node, ast.Assign) and any(getattr(t, "id", "") == DTYPE_ANNOTATION for t in node.targets)
                    and isinstance(node.value, ast.Subscript)):
                self.dtypes |= {e.value for e in ast.walk(node.value.slice) if isinstance(e, ast.Constant)}

    def model_class(self, architecture: str) -> tuple[str, ast.ClassDef] | None:
        module, name = self.architectures[architecture]
        candidates = self.classes.get(name, [])
        own = [c for c in candidates if module.replace(".", "/") in c[0]]
        return (own or candidates or [None])[0]

    def supports_lora(self, architecture: str) -> bool:
        """v0.4: the class lists `supported_lora_modules`; later: `SupportsLoRA` among its bases (transitively)."""
        found = self.model_class(architecture)
        seen: set[str] = set()
        pending = [found[1]] if found else []
        while pending:
            node = pending.pop()
            if node.name in seen:
                continue
            seen.add(node.name)
            for item in node.body:
                targets = item.targets if isinstance(item, ast.Assign) else [getattr(item, "target", None)]
                if any(getattr(t, "id", "") == "supported_lora_modules" for t in targets):
                    return True
            for base in node.bases:
                name = getattr(base, "id", getattr(base, "attr", ""))
                if name == "SupportsLoRA":
                    return True
                pending += [c for _, c in self.classes.get(name, [])]
        return False

    def runnable(self, module: str) -> bool:
        source = self.sources.get(module.replace(".", "/") + ".py", "")
        return "__name__ == \"__main__\"" in source or "__name__ == '__main__'" in source


def problems(config: dict, facts: dict, release: Release) -> list[str]:
    """Why this release would refuse to start with this configuration; empty when it starts."""
    found = []
    prefix = f"vLLM {release.version}"
    if not release.runnable(launch.SERVER_MODULE):
        found.append(f"{prefix} has no runnable {launch.SERVER_MODULE}")
    argv = launch.render_argv(config, python="python3")
    unknown = sorted({word for word in argv if word.startswith("--")} - release.flags)
    if unknown:
        found.append(f"{prefix}'s server does not take {', '.join(unknown)} (serve.json)")
    model = facts.get(config["model"])
    if model is None:
        return [*found, f"no facts for model {config['model']!r}: add its config.json values to model.json"]
    architecture = model["architecture"]
    if architecture not in release.architectures:
        found.append(f"{prefix} cannot load {architecture} ({config['model']})")
    elif config.get("enable_lora") and not release.supports_lora(architecture):
        found.append(
            f"{prefix} has no LoRA support for {architecture} ({config['model']}): it would refuse --enable-lora; "
            "pick a release that supports it or serve without adapters"
        )
    dtype = config.get("dtype")
    if dtype and release.dtypes and dtype not in release.dtypes:
        found.append(f"{prefix} offers dtypes {', '.join(sorted(release.dtypes))}, not {dtype}")
    length = config.get("max_model_len")
    if length and length > model["max_position_embeddings"]:
        found.append(f"max_model_len {length} exceeds {config['model']}'s {model['max_position_embeddings']} positions")
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("wheel", type=Path, help="the vLLM wheel of the image's version (pip download --no-deps)")
    parser.add_argument("--config", type=Path, default=HERE / "serve.json")
    parser.add_argument("--model-facts", type=Path, default=HERE / "model.json")
    args = parser.parse_args(argv)
    try:
        release = Release.from_wheel(args.wheel)
        found = problems(launch.load(args.config), json.loads(args.model_facts.read_text()), release)
    except (ReleaseError, launch.ConfigError) as error:
        found = [str(error)]
    for problem in found:
        print(f"check_release: {problem}", file=sys.stderr)
    if not found:
        print(f"check_release: vLLM {release.version} starts {args.config.name}: flags, model, LoRA, dtype, length")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
