"""Building the services' images from dockerfiles/, per platform, on the engine.

The Dockerfiles name their production bases as build arguments (NODE_IMAGE=node:20-alpine, …); `base`
overrides swap in other bases (local stand-ins, a mirror) without touching the production path.
"""

from __future__ import annotations

import re

import dagger

from .catalogue import AMD64, ARM64, Service

PLATFORMS = (AMD64, ARM64)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.MULTILINE)
_FROM_ARG = re.compile(r"^\s*FROM\s+(?:--platform=\S+\s+)?\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", re.MULTILINE)


class BuildInputError(ValueError):
    """A platform or base-image override the pipeline cannot honour."""


def base_args(dockerfile_text: str) -> dict[str, str]:
    """The Dockerfile's base-image arguments (ARGs used in FROM) and their production defaults."""
    defaults: dict[str, str] = {}
    for name, default in _ARG.findall(dockerfile_text):
        if default:  # a stage's bare `ARG NAME` re-declares the global one, keeping its default
            defaults.setdefault(name, default)
    return {name: defaults.get(name, "") for name in _FROM_ARG.findall(dockerfile_text)}


def parse_bases(pairs: list[str] | None, known: set[str]) -> dict[str, str]:
    """``["NODE_IMAGE=ref", …]`` as a dict, refusing malformed pairs and arguments no Dockerfile declares."""
    bases: dict[str, str] = {}
    for pair in pairs or []:
        name, sep, ref = pair.partition("=")
        if not sep or not name or not ref:
            raise BuildInputError(f"--base {pair!r}: expected ARG=IMAGE, e.g. --base NODE_IMAGE=127.0.0.1:5000/node:20")
        if name not in known:
            raise BuildInputError(f"--base {name}: no Dockerfile takes that base; known: {', '.join(sorted(known))}")
        bases[name] = ref
    return bases


def platforms_for(svc: Service, requested: list[str] | None) -> tuple[str, ...]:
    """The catalogue's platforms, or the requested ones (a GPU image keeps its own: its base exists only there)."""
    for p in requested or []:
        if p not in PLATFORMS:
            raise BuildInputError(f"--platform {p}: supported platforms are {', '.join(PLATFORMS)}")
    if not requested or svc.accelerator:
        return svc.platforms
    return tuple(dict.fromkeys(requested))


def shipped_platforms_among(svc: Service, requested: list[str] | None) -> tuple[str, ...]:
    """The catalogue's platforms of the service among the requested ones: the share of its release one engine
    builds (build --shipped-only, publish --by-digest; merge wants exactly the catalogue's)."""
    platforms_for(svc, requested)  # refuses an unsupported platform
    return tuple(p for p in svc.platforms if not requested or p in requested)


def dockerfile_build(
    source: dagger.Directory,
    svc: Service,
    platform: str,
    bases: dict[str, str],
    target: str = "",
) -> dagger.Container:
    """The service's Dockerfile built on the engine for one platform (the whole graph, or up to ``target``)."""
    # The Dockerfiles live in dockerfiles/, outside the contexts; the engine wants it inside.
    context = source.directory(svc.context).with_file("Dockerfile", source.file(svc.dockerfile))
    return context.docker_build(
        dockerfile="Dockerfile",
        platform=dagger.Platform(platform),
        target=target,
        build_args=[dagger.BuildArg(name=k, value=v) for k, v in sorted(bases.items())],
    )
