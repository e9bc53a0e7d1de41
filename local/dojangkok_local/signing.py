"""The local cosign key pair: what the main job and the engine tests sign and verify with.

Generated once by the cosign the stand-in is built from (the Go module proxy), kept in the cache beside it. Its
password is no secret (it guards nothing but local test images); it still reaches the module only as a Dagger
secret, by name (env:…), as a CI secret would.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from dojangkok.supply_chain import COSIGN_IMAGE, PREDICATE_TYPES

from dojangkok_local.bases import CACHE, tool_binary

PASSWORD_VARIABLE = "DOJANGKOK_COSIGN_PASSWORD"  # noqa: S105 (a variable's name)
PASSWORD = "local-test-images-only"  # noqa: S105 (guards local test images only, see above)


@dataclass(frozen=True)
class KeyPair:
    public_key: Path
    private_key: Path

    def arguments(self) -> list[str]:
        """The `with-signing` call that signs with this pair."""
        return ["with-signing", "--public-key", str(self.public_key), "--key", f"file:{self.private_key}",
                "--password", f"env:{PASSWORD_VARIABLE}"]


def cosign() -> Path:
    return tool_binary(COSIGN_IMAGE)


def key_pair(directory: Path = CACHE / "signing") -> KeyPair:
    """The pair in `directory`, generated there the first time."""
    pair = KeyPair(directory / "cosign.pub", directory / "cosign.key")
    if not pair.private_key.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run([cosign(), "generate-key-pair"], cwd=directory, check=True, capture_output=True,
                       env={**os.environ, "COSIGN_PASSWORD": PASSWORD})
    return pair


def host_cosign(key: KeyPair, command: str, *args: str) -> subprocess.CompletedProcess:
    """The host's cosign (the release the stand-in is built from) checking against the pair's public key, as an
    auditor outside the module would."""
    return subprocess.run([cosign(), command, "--key", str(key.public_key), "--insecure-ignore-tlog",
                           "--allow-http-registry", *args], capture_output=True, text=True)


def statements(key: KeyPair, kind: str, reference: str) -> list[dict]:
    """The in-toto statements of one attestation kind (sbom, provenance) the host's cosign verifies on
    `reference`; RuntimeError with cosign's complaint when it verifies none."""
    result = host_cosign(key, "verify-attestation", "--type", PREDICATE_TYPES[kind], reference)
    if result.returncode:
        raise RuntimeError(f"cosign verify-attestation --type {PREDICATE_TYPES[kind]} {reference}: {result.stderr}")
    return [json.loads(base64.b64decode(json.loads(line)["payload"])) for line in result.stdout.splitlines() if line]
