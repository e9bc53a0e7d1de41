"""build, test and publish through the real CLI, with stand-in bases and local registries.

CI builds every image for the engine's own platform and proves arm64 on the smallest image (ai-server);
`DOJANGKOK_FULL_MULTIARCH=1` builds every catalogue platform (what scripts/pipeline does).
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import boto3
import pytest
from dagger import dag
from dojangkok import catalogue
from dojangkok_local import ROOT
from dojangkok_local.aws.server import aws_emulator
from dojangkok_local.engine.cli import call, host_service
from dojangkok_local.engine.cli import dagger as run_dagger
from dojangkok_local.engine.warm import full_multiarch
from dojangkok_local.registry import LocalRegistry, RefusingProxy

pytestmark = pytest.mark.engine

HOST = "linux/amd64"
PLATFORMS = [] if full_multiarch() else ["--platform", HOST]
# What each service needs to answer its health check when run alone.
RUN_ENV = {"frontend": {"BACKEND_URL": "http://127.0.0.1:9"}}


def source_copy(tmp_path: Path, *services: str) -> Path:
    """A copy of the pipeline's inputs with these services, to change without touching the checkout."""
    copy = tmp_path / "repo"
    for service in services:
        ignore = shutil.ignore_patterns("__pycache__", ".pytest_cache", "node_modules", ".next", "target")
        shutil.copytree(ROOT / "services" / service, copy / "services" / service, ignore=ignore)
    for part in ("dockerfiles", "deploy"):
        shutil.copytree(ROOT / part, copy / part)
    shutil.copy(ROOT / "dagger.json", copy)
    return copy


async def health(image: str, svc: catalogue.Service) -> str:
    """GET the service's health endpoint from a sidecar, as a load balancer would."""
    container = dag.container().from_(image)
    for key, value in RUN_ENV.get(svc.name, {}).items():
        container = container.with_env_variable(key, value)
    service = container.with_exposed_port(svc.port).as_service(use_entrypoint=True)
    probe = (
        dag.container()
        .from_("python:3.11-slim")  # the stand-in, through the registry mirror: any image with python3 can probe
        .with_service_binding("app", service)
        .with_exec([
            "python3", "-c",
            "import sys, time, urllib.request\n"
            "for _ in range(90):\n"
            "    try:\n"
            f"        url = 'http://app:{svc.port}{svc.health_path}'\n"
            "        print(urllib.request.urlopen(url, timeout=5).read().decode())\n"
            "        sys.exit(0)\n"
            "    except Exception:\n"
            "        time.sleep(2)\n"
            "sys.exit('no answer')\n",
        ])
    )
    return await probe.stdout()


async def test_published_images_answer_their_health_checks(images_built, registry, registry_api, dagger_session):
    report = json.loads(call("with-registry", "--address", registry, "build", *PLATFORMS,
                             "publish", "--env", "dev", "--branch", "ci/health", "--format", "json"))
    published = {r["service"]: r for r in report}
    assert set(published) == {s.name for s in catalogue.BUILT}
    assert published["vllm"]["platforms"] == ["linux/amd64"]  # the CUDA image keeps its platform whatever is asked
    for svc in catalogue.BUILT:
        row = published[svc.name]
        repository = f"dojangkok/{svc.name}"
        assert row["reference"].startswith(f"{registry}/{repository}:dev-ci-health-")
        assert registry_api.manifest(repository, "latest")[0] == row["digest"]  # latest is the same index
        if svc.name == "vllm":  # no GPU here: its image is built and its launch checked by its test stage
            continue
        answer = await health(f"{registry}/{repository}@{row['digest']}", svc)
        assert "ok" in answer.lower() or "up" in answer.lower(), (svc.name, answer)


def test_the_arm64_image_runs_arm64_code(images_built):
    out = call("build", "--service", "ai-server", "--platform", "linux/arm64",
               "container", "--service", "ai-server", "--platform", "linux/arm64", "with-exec", "--args", "uname,-m",
               "stdout")
    assert out.strip() == "aarch64"


def test_every_service_passes_its_tests_inside_a_container(images_built, tmp_path):
    rows = [line.split() for line in call("test", "summary").splitlines()]
    assert [s.name for s in catalogue.BUILT] == [row[0] for row in rows if row[-1:] == ["passed"]]
    call("test", "--service", "ai-server", "reports", "export", "--path", str(tmp_path / "reports"))
    junit = (tmp_path / "reports" / "ai-server" / "ai-server.xml").read_text()
    assert "<testsuite" in junit and 'failures="0"' in junit


def test_a_broken_test_fails_and_names_its_service(images_built, tmp_path):
    copy = source_copy(tmp_path, "ai-server")
    (copy / "services" / "ai-server" / "tests" / "test_deliberately_broken.py").write_text(
        "def test_contract_risk_is_scored():\n    assert 1 + 1 == 3, 'deliberately broken'\n"
    )
    result = run_dagger("call", "--source", str(copy), "test", "--service", "ai-server", check=False)
    assert result.returncode != 0
    assert "ai-server: tests failed" in result.stderr
    assert "test_deliberately_broken" in result.stderr and "deliberately broken" in result.stderr


def ecr_password(endpoint: str) -> str:
    client = boto3.client("ecr", region_name="ap-northeast-2", endpoint_url=endpoint,
                          aws_access_key_id="ci", aws_secret_access_key="ci")  # noqa: S106
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]


def test_a_registry_override_gets_its_own_login_never_the_clouds_token(images_built):
    with aws_emulator() as moto:
        token = ecr_password(moto.endpoint)  # what with-aws logs in to ECR with
        # A registry that would take exactly that token: were it sent there, the first publish would land.
        with LocalRegistry(user="AWS", password=token) as registry:
            with_aws = ["with-aws", "--access-key-id", "env:DOJANGKOK_EMULATOR_KEY_ID",
                        "--secret-access-key", "env:DOJANGKOK_EMULATOR_SECRET", "--endpoint",
                        host_service(moto.endpoint)]
            publish = ["publish", "--env", "dev", "--branch", "feat/login", "--service", "ai-server,frontend",
                       *PLATFORMS, "--format", "json"]
            refused = run_dagger("call", *with_aws, "with-registry", "--address", registry.address, *publish,
                                 check=False)
            api = registry.api()
            assert refused.returncode != 0 and api.catalog() == {}

            result = run_dagger("call", *with_aws, "with-registry", "--address", registry.address,
                                "--username", "AWS", "--password", "env:MIRROR_PASSWORD", *publish,
                                env={"MIRROR_PASSWORD": token})
            for name in ("ai-server", "frontend"):
                tags = api.tags(f"dojangkok/{name}")
                unique = next(t for t in tags if t.startswith("dev-feat-login-"))
                assert sorted(tags) == sorted([unique, "latest"])
                assert api.manifest(f"dojangkok/{name}", unique)[0] in result.stdout
            assert registry.refused_anonymous()  # the registry really demanded the password
    assert token not in result.stdout + result.stderr + refused.stderr


def test_a_refused_push_leaves_latest_where_it_was(images_built, registry, tmp_path):
    repository = "dojangkok/vllm"
    with RefusingProxy(registry) as proxy:
        def publish(*source: str, branch: str):
            return run_dagger("call", *source, "with-registry", "--address", proxy.address, "publish",
                              "--env", "dev", "--branch", branch, "--service", "vllm", "--format", "json", check=False)

        first = publish(branch="main")
        assert first.returncode == 0, first.stderr[-2000:]
        latest_before = proxy.api().manifest(repository, "latest")[0]
        assert latest_before in first.stdout

        # The next release changes the image, and the registry refuses its unique tag.
        copy = source_copy(tmp_path, "vllm")
        serve = copy / "services" / "vllm" / "serve.json"
        serve.write_text(serve.read_text() + "\n")
        proxy.refuse_tags_starting_with("dev-release-")
        refused = publish("--source", str(copy), branch="release")
        assert refused.returncode != 0 and "push refused by policy" in refused.stderr
        assert proxy.api().manifest(repository, "latest")[0] == latest_before
        assert not [t for t in proxy.api().tags(repository) if t.startswith("dev-release-")]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["publish", "--env", "dev", "--branch", "feat/x", "--service", "payments"], "unknown service 'payments'"),
        (["publish", "--env", "prd", "--version", "1.0.2", "--commit", "a1b2c3d"], "version"),
        (["publish", "--env", "prd", "--version", "v1.0.2", "--commit", "a1b2c3d"], "with-aws --access-key-id"),
        (["--base", "NODEIMAGE=x", "with-registry", "--address", "127.0.0.1:5000",
          "publish", "--env", "dev", "--branch", "main"], "no Dockerfile takes that base"),
    ],
)
def test_bad_input_fails_before_any_build_or_push(engine_env, registry_api, arguments, message):
    before = registry_api.catalog()
    result = run_dagger("call", *arguments, check=False)
    assert result.returncode != 0 and message in result.stderr
    assert registry_api.catalog() == before


def test_a_launch_the_pinned_vllm_cannot_start_fails_the_tests(images_built, tmp_path):
    copy = source_copy(tmp_path, "vllm")
    serve = copy / "services" / "vllm" / "serve.json"
    serve.write_text(json.dumps({**json.loads(serve.read_text()), "speculative_model": "tiny"}))  # no such flag
    result = run_dagger("call", "--source", str(copy), "test", "--service", "vllm", check=False)
    assert result.returncode != 0 and "vllm: tests failed" in result.stderr
    assert "server does not take --speculative-model" in result.stderr
