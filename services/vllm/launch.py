#!/usr/bin/env python3
"""Start vLLM's OpenAI-compatible server from the launch configuration in serve.json.

The configuration is data so that tests can check it (port, model, adapters) against the service
catalogue; this script only turns it into vLLM's argv and execs the server. Keys map to flags
(`max_loras` -> `--max-loras`); `true` is a bare flag, `false`/null are left out.

`lora_modules` becomes ONE `--lora-modules` followed by every `name=path`: vLLM's parser keeps only
the last occurrence of a repeated `--lora-modules`, so the one-flag-per-adapter form would silently
serve the last adapter alone.

Choices in serve.json (seed §8.3, on g2-standard-4's L4, 24 GB): float16, polyglot-ko's own dtype, ~12 GB of
weights plus KV cache within 90 % of the GPU, and polyglot-ko's own 2048-token context. check_release.py proves
them against the pinned vLLM release before an image is published. Adapters live under
/models/lora (a mounted volume); the base model is fetched into HF_HOME on first start.

Runs on the vLLM image's own Python: standard library only, no 3.11-only features.

    launch.py [--print] [extra vLLM flags...]

--print shows the command instead of running it; extra flags are appended (a later flag wins in vLLM).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
CONFIG_ENV = "VLLM_SERVE_CONFIG"
DEFAULT_CONFIG = Path(__file__).resolve().with_name("serve.json")
REQUIRED = ("model", "port")


class ConfigError(ValueError):
    """The launch configuration cannot start a server; the message says what to change."""


def load(path: Path) -> dict:
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"no launch configuration at {path}: set {CONFIG_ENV} to the serve.json to use") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ConfigError(f"{path} must hold a JSON object of vLLM options")
    validate(config)
    return config


def validate(config: dict) -> None:
    missing = [key for key in REQUIRED if key not in config]
    if missing:
        raise ConfigError(f"the launch configuration needs {', '.join(missing)}")
    adapters = config.get("lora_modules") or {}
    if not isinstance(adapters, dict):
        raise ConfigError('lora_modules must map adapter names to paths, e.g. {"risk-lora": "/models/lora/risk"}')
    if adapters and config.get("enable_lora") is not True:
        raise ConfigError("lora_modules are listed but enable_lora is not true: vLLM would refuse them")
    for name, path in adapters.items():
        if "=" in name or not str(path).startswith("/"):
            raise ConfigError(f"adapter {name!r}: the name must not contain '=' and {path!r} must be an absolute path")
    max_loras = config.get("max_loras", 1)
    if adapters and (not isinstance(max_loras, int) or max_loras < 1):
        raise ConfigError(f"max_loras must be a positive integer, got {max_loras!r}")


def flag(key: str) -> str:
    return "--" + key.replace("_", "-")


def render_argv(config: dict, python: str = sys.executable or "python3") -> list[str]:
    """The full command line that starts vLLM's OpenAI server with this configuration."""
    validate(config)
    argv = [python, "-m", SERVER_MODULE]
    for key, value in config.items():
        if value is None or value is False:
            continue
        if value is True:
            argv.append(flag(key))
        elif key == "lora_modules":
            argv.append(flag(key))
            argv.extend(f"{name}={path}" for name, path in value.items())
        elif isinstance(value, list):
            argv.append(flag(key))
            argv.extend(str(v) for v in value)
        elif isinstance(value, dict):
            argv.extend([flag(key), json.dumps(value)])
        else:
            argv.extend([flag(key), str(value)])
    return argv


def main(args: list[str]) -> int:
    show_only = bool(args) and args[0] == "--print"
    extra = args[1:] if show_only else args
    try:
        config = load(Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG))
    except ConfigError as exc:
        print(f"launch.py: {exc}", file=sys.stderr)
        return 2
    argv = render_argv(config) + extra
    if show_only:
        print(shlex.join(argv))
        return 0
    sys.stdout.flush()
    # Replace this process (no shell): vLLM becomes PID 1 and receives the container's signals directly.
    os.execv(argv[0], argv)  # noqa: S606
    return 0  # pragma: no cover (execv does not return)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
