"""Software bills of materials: what is inside each built image, per platform, as SPDX JSON.

syft, run on the engine from its released image, scans the image exactly as it would be pushed (its OCI tarball),
so the SBOM lists the OS packages of the base and the language dependencies the Dockerfile installed (npm, Maven,
pip). A mirror or a stand-in can take the image's place through the engine's registry-mirror configuration.
"""

from __future__ import annotations

import dagger

# The scanner's released image; the tag is the version the local stand-in is built from (Go module proxy).
SYFT_IMAGE = "anchore/syft:v1.57.2"
FORMAT = "spdx-json"
_OUT = "/out/sbom.spdx.json"


def file_name(service: str, platform: str) -> str:
    """``ai-server-linux-arm64.spdx.json``: one SBOM per service and platform."""
    return f"{service}-{platform.replace('/', '-')}.spdx.json"


def scan(image: dagger.Container, name: str) -> dagger.File:
    """The SPDX JSON SBOM of one built image (one platform), scanned by syft on the engine."""
    # Written to a file, not stdout: an SBOM is megabytes, and the engine's progress would print all of it.
    return (
        dagger.dag.container()
        .from_(SYFT_IMAGE)
        .with_mounted_file("/in/image.tar", image.as_tarball())
        .with_directory("/out", dagger.dag.directory())
        .with_exec(["scan", "oci-archive:/in/image.tar", "--source-name", name, "--output", f"{FORMAT}={_OUT}",
                    "--quiet"], use_entrypoint=True)
        .file(_OUT)
    )
