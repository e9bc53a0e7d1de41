"""The engine's builtin SDK content, made from local parts.

A released engine image carries two OCI images in its builtin content store: the Go SDK (the toolchain the engine
compiles Go modules with, among them the Python SDK runtime) and the Python SDK (the runtime's Go source, the
dagger-io source it vendors into every Python module, uv and a codegen zipapp). Upstream assembles them in
`toolchains/engine-dev/build/sdk.go` from Docker Hub and GitHub images; here the same trees are assembled from
what this machine can reach:

- Go SDK: the Debian stand-in root filesystem with git, openssh-client and openssl from Debian, the Go toolchain
  from the Go module proxy (`golang.org/toolchain`), the `codegen` binary built with the engine, and the dependency
  mirror as the first GOPROXY (the runtime's pinned `dagger.io/dagger` commit is only there). Caches are warmed
  the way upstream warms them (std, and the Go SDK library's dependency graph).
- Python SDK: the v0.21.8 `sdk/python` tree from the mirror (same include/exclude rules as upstream), uv and uvx
  from the musllinux uv wheel on PyPI (static binaries), and `dist/codegen` built with shiv from PyPI.

Each image is exported with zstd layers, like upstream; the blobs go to a directory the engine mounts as its
builtin content store, and the manifest digests become DAGGER_GO_SDK_MANIFEST_DIGEST /
DAGGER_PYTHON_SDK_MANIFEST_DIGEST. The result is cached by the recipe (this file, the codegen binary, the mirror).

    python -m dojangkok_local.engine.sdk_content --codegen BIN/codegen --mirror ../shared/mirror --out DIR
"""

from __future__ import annotations

import argparse
import asyncio
import fnmatch
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import dagger
from dagger import dag

from dojangkok_local import bases

DAGGER_VERSION = "v0.21.8"
SDK_TARBALL = "dagger-v0.21.8-sdk-python.tar.gz"
SDK_TARBALL_SHA256 = "29b56f6de661823073027de6890928f0dafb7550ad66ce8e0e9ae67e7c9b5f99"  # the mirror README's
GO_VERSION = "1.26.8"  # >= the python-sdk runtime's `go 1.26.1`; codegen refuses a newer go.mod than its own Go
UV_VERSION = "0.10.3"  # sdk/python/runtime/images/uv/Dockerfile at v0.21.8: the runtime uses the bundled uv only then
SHIV_VERSION = "1.0.8"  # what upstream's sdk.go runs
GO_SDK_LIB = "dagger.io/dagger@v0.21.5-0.20260727204138-56bb30426a84"  # core/sdk/go_sdk.go goSDKLibVersion
# Modules only the mirror serves, out of the public checksum database's reach (the mirror README).
MIRROR_NOSUMDB = "github.com/vito/*,dagger.io/dagger,github.com/dagger/dagger/engine/distconsts"

# What of sdk/python the content (and so every module's vendored ci/sdk) holds: upstream's include/exclude lists.
PYTHON_SDK_INCLUDE = [
    "pyproject.toml",
    "uv.lock",
    "src/**/*.py",
    "src/**/*.typed",
    "codegen/",
    "runtime/",
    "LICENSE",
    "README.md",
]
PYTHON_SDK_EXCLUDE = ["src/dagger/_engine/", "src/dagger/provisioning/"]


def log(message: str) -> None:
    print(f"[sdk-content] {message}", file=sys.stderr, flush=True)


def run(*argv: str, cwd: Path | None = None) -> str:
    return subprocess.run(argv, cwd=cwd, check=True, capture_output=True, text=True).stdout


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def recipe_key(codegen: Path, mirror: Path) -> str:
    """What the content is made of: this recipe, the codegen binary, the mirror's SDK tree and module list."""
    parts = [Path(__file__).read_bytes(), sha256(codegen).encode(), sha256(mirror / SDK_TARBALL).encode()]
    parts += [str(p.relative_to(mirror)).encode() for p in sorted((mirror / "goproxy").rglob("*")) if p.is_file()]
    return hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]


def python_sdk_tree(mirror: Path, work: Path) -> Path:
    """The mirror's sdk/python of v0.21.8, checked against the mirror's published checksum."""
    tarball = mirror / SDK_TARBALL
    if sha256(tarball) != SDK_TARBALL_SHA256:
        raise SystemExit(f"{tarball}: sha256 differs from the mirror README's {SDK_TARBALL_SHA256}")
    with tarfile.open(tarball) as tar:
        tar.extractall(work, filter="data")
    return work / f"dagger-{DAGGER_VERSION}" / "sdk" / "python"


def go_toolchain() -> Path:
    """The Go binary distribution, as the Go module proxy serves it to `GOTOOLCHAIN` switches."""
    out = run("go", "mod", "download", "-json", f"golang.org/toolchain@v0.0.1-go{GO_VERSION}.linux-amd64")
    return Path(json.loads(out)["Dir"])


def uv_binaries(work: Path) -> Path:
    """uv and uvx from the musllinux wheel: static, so they run in any base image."""
    wheels = work / "uv-wheel"
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--platform", "musllinux_1_1_x86_64", "--dest", str(wheels), f"uv=={UV_VERSION}"],
        check=True,
    )
    dist = work / "uv-dist"
    dist.mkdir()
    with zipfile.ZipFile(next(wheels.glob("uv-*.whl"))) as wheel:
        for name in ("uv", "uvx"):
            (dist / name).write_bytes(wheel.read(f"uv-{UV_VERSION}.data/scripts/{name}"))
            (dist / name).chmod(0o755)
    return dist


def codegen_zipapp(sdk: Path, work: Path) -> Path:
    """`dist/codegen`: the SDK's codegen package and its dependencies in one shiv zipapp, as upstream makes it."""
    requirements = work / "codegen-requirements.txt"
    uv = Path(sys.executable).with_name("uv")
    run(str(uv), "export", "--frozen", "--no-hashes", "--no-editable", "--package", "codegen",
        "-o", str(requirements), cwd=sdk)
    out = work / "codegen"
    shiv = Path(sys.executable).with_name("shiv")
    run(str(shiv), "--reproducible", "--compressed", "-e", "codegen.cli:main", "-o", str(out),
        "-r", str(requirements), cwd=sdk)
    return out


def go_sdk(codegen: Path, mirror: Path, toolchain: Path, goproxy: str) -> dagger.Container:
    env = {
        "GOPATH": "/go",
        "PATH": "/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "GOTOOLCHAIN": "local",  # upstream says auto; nothing here could download another toolchain
        "GOPROXY": f"file:///go/mirror,{goproxy}",
        "GONOSUMDB": MIRROR_NOSUMDB,
    }
    ctr = (
        bases.debian("linux/amd64")
        .with_exec(["apt-get", "update", "-qq"])
        .with_exec(["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                    "git", "openssh-client", "openssl", "ca-certificates"])
        .with_exec(["rm", "-rf", "/var/lib/apt/lists"])
        .with_directory("/usr/local/go", dag.host().directory(str(toolchain)))
        # Module zips carry no file modes; the go command marks these executable when it switches toolchains.
        .with_exec(["sh", "-c",
                    "chmod -R u+w /usr/local/go && chmod a+x /usr/local/go/bin/* /usr/local/go/pkg/tool/*/*"])
        .with_directory("/go/mirror", dag.host().directory(str(mirror / "goproxy")))
        .with_file("/usr/local/bin/codegen", dag.host().file(str(codegen)), permissions=0o755)
    )
    for key, value in env.items():
        ctr = ctr.with_env_variable(key, value)
    # The engine mounts cache volumes seeded from these directories: warm them as upstream does.
    return (
        ctr.with_exec(["mkdir", "-p", "/go/pkg/mod", "/go/bin", "/root/.cache/go-build"])
        .with_exec(["go", "build", "std"])
        .with_exec(["sh", "-c",
                    f"dir=$(go mod download -json {GO_SDK_LIB} | sed -n 's/^\\s*\"Dir\": \"\\(.*\\)\",$/\\1/p') && "
                    "GOFLAGS=-mod=mod go list -C \"$dir\" -e -export=true -compiled=true -deps=true -test=false . "
                    ">/dev/null"])
    )


def python_sdk(sdk: Path, uv: Path, codegen: Path) -> dagger.Container:
    rootfs = (
        dag.directory()
        .with_directory("/", dag.host().directory(str(sdk)), include=PYTHON_SDK_INCLUDE, exclude=PYTHON_SDK_EXCLUDE)
        .with_directory("dist", dag.host().directory(str(uv)))
        .with_file("dist/codegen", dag.host().file(str(codegen)), permissions=0o755)
    )
    return dag.container().with_rootfs(rootfs)


async def export_content(ctr: dagger.Container, name: str, out: Path) -> str:
    """Blobs of the image into out/blobs; returns the manifest digest the engine looks up."""
    tarball = out / f"{name}.tar"
    await ctr.as_tarball(forced_compression=dagger.ImageLayerCompression.Zstd).export(str(tarball))
    with tarfile.open(tarball) as tar:
        index = json.load(tar.extractfile("index.json"))
        members = [m for m in tar.getmembers() if m.name.startswith("blobs/")]
        tar.extractall(out, members=members, filter="data")
    tarball.unlink()
    manifest = index["manifests"][0]
    if manifest["mediaType"] != "application/vnd.oci.image.manifest.v1+json":
        raise SystemExit(f"{name}: expected one image manifest in the export, got {manifest['mediaType']}")
    return manifest["digest"]


async def build(codegen: Path, mirror: Path, out: Path) -> dict[str, str]:
    goproxy = run("go", "env", "GOPROXY").strip()
    with tempfile.TemporaryDirectory(prefix="dojangkok-sdk-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        sdk = python_sdk_tree(mirror, work)
        uv, zipapp, toolchain = uv_binaries(work), codegen_zipapp(sdk, work), go_toolchain()
        log(f"local parts ready in {time.monotonic() - started:.1f}s (Go {GO_VERSION}, uv {UV_VERSION}, shiv)")
        staging = out.with_name(out.name + ".partial")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        async with dagger.connection(dagger.Config(log_output=sys.stderr)):
            go_digest, python_digest = await asyncio.gather(
                export_content(go_sdk(codegen, mirror, toolchain, goproxy), "go-sdk", staging),
                export_content(python_sdk(sdk, uv, zipapp), "python-sdk", staging),
            )
    digests = {"DAGGER_GO_SDK_MANIFEST_DIGEST": go_digest, "DAGGER_PYTHON_SDK_MANIFEST_DIGEST": python_digest}
    (staging / "digests.env").write_text("".join(f"{k}={v}\n" for k, v in digests.items()))
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    log(f"built in {time.monotonic() - started:.1f}s: {out}")
    return digests


def included(rel: str) -> bool:
    """Whether a path of sdk/python belongs to the content, by upstream's include/exclude lists."""
    if any(rel.startswith(prefix) for prefix in PYTHON_SDK_EXCLUDE):
        return False
    return any(rel.startswith(p) if p.endswith("/") else fnmatch.fnmatch(rel, p) for p in PYTHON_SDK_INCLUDE)


def vendored_sdk(source: Path, dest: Path) -> None:
    """The dagger-io tree the engine vendors into a module (content minus dist/), e.g. ci/sdk for `uv lock`.

    ``source`` is the mirror (its v0.21.8 tarball) or a checkout of the release's sdk/python (GitHub Actions).
    """
    with tempfile.TemporaryDirectory(prefix="dojangkok-sdk-") as tmp:
        sdk = source if (source / "pyproject.toml").is_file() else python_sdk_tree(source, Path(tmp))
        shutil.rmtree(dest, ignore_errors=True)
        for path in sorted(sdk.rglob("*")):
            rel = path.relative_to(sdk)
            if path.is_file() and included(rel.as_posix()):
                (dest / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, dest / rel)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mirror", type=Path, required=True,
                        help="the dependency mirror (../shared/mirror); for vendor also a checkout of sdk/python")
    sub = parser.add_subparsers(dest="command", required=True)
    content = sub.add_parser("build", help="build the content into --out (needs a running engine)")
    content.add_argument("--codegen", type=Path, required=True, help="codegen binary built with the engine")
    content.add_argument("--out", type=Path, required=True)
    key = sub.add_parser("key", help="print the recipe key of the content")
    key.add_argument("--codegen", type=Path, required=True)
    vendor = sub.add_parser("vendor", help="write the vendored dagger-io tree (what ci/sdk holds at load time)")
    vendor.add_argument("dest", type=Path)
    args = parser.parse_args(argv)
    mirror = args.mirror.resolve()
    if args.command == "vendor" and (mirror / "pyproject.toml").is_file():
        vendored_sdk(mirror, args.dest)
        return 0
    if not (mirror / SDK_TARBALL).is_file():
        parser.error(f"{mirror} has no {SDK_TARBALL}: pass the dependency mirror (../shared/mirror, see its README)")
    if args.command == "key":
        print(recipe_key(args.codegen, mirror))
    elif args.command == "vendor":
        vendored_sdk(mirror, args.dest)
    else:
        for key_, value in asyncio.run(build(args.codegen.resolve(), mirror, args.out.resolve())).items():
            print(f"{key_}={value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
