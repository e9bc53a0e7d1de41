"""build, test and publish on the real engine, with stand-in bases and a local registry.

CI builds every image for the engine's own platform and proves arm64 on the smallest image (ai-server);
`DOJANGKOK_FULL_MULTIARCH=1` builds every catalogue platform (what scripts/pipeline does).
"""

from __future__ import annotations

import base64
import os

import boto3
import dagger
import pytest
from dagger import dag
from dojangkok import catalogue
from dojangkok.credentials import CredentialsError
from dojangkok.environments import Environment
from dojangkok.main import Dojangkok
from dojangkok.plan import OutputFormat
from dojangkok.testing import TestsFailed
from dojangkok_local import bases, engine
from dojangkok_local.aws import aws_emulator
from dojangkok_local.registry import AuthRegistry, RefusingProxy
from engine_support import source_copy

pytestmark = pytest.mark.engine

FULL = os.environ.get("DOJANGKOK_FULL_MULTIARCH") == "1"
HOST = "linux/amd64"
# What each service needs to answer its health check when run alone.
RUN_ENV = {"frontend": {"BACKEND_URL": "http://127.0.0.1:9"}}


def platforms() -> list[str] | None:
    return None if FULL else [HOST]


async def health(container: dagger.Container, svc: catalogue.Service) -> str:
    """GET the service's health endpoint from a sidecar, as a load balancer would."""
    for key, value in RUN_ENV.get(svc.name, {}).items():
        container = container.with_env_variable(key, value)
    service = container.with_exposed_port(svc.port).as_service(use_entrypoint=True)
    probe = (
        dag.container()
        .from_(bases.reference("python"))  # any image with python3 can probe
        .with_service_binding("app", service)
        .with_exec(
            [
                "python3",
                "-c",
                "import sys, time, urllib.request\n"
                "for _ in range(90):\n"
                "    try:\n"
                f"        url = 'http://app:{svc.port}{svc.health_path}'\n"
                "        print(urllib.request.urlopen(url, timeout=5).read().decode())\n"
                "        sys.exit(0)\n"
                "    except Exception as exc:\n"
                "        time.sleep(2)\n"
                "sys.exit('no answer')\n",
            ]
        )
    )
    return await probe.stdout()


async def test_builds_every_image_and_each_answers_its_health_check(pipeline, base):
    build = await pipeline.build(platform=platforms(), base=base)
    await build.sync()
    built = {(i.service, str(i.platform)) for i in build.images}
    assert {s for s, _ in built} == {s.name for s in catalogue.BUILT}
    assert ("vllm", "linux/amd64") in built  # the CUDA image keeps its platform whatever is asked
    for svc in catalogue.BUILT:
        if svc.name == "vllm":  # no GPU here: its image is built and its launch checked by its test stage
            continue
        answer = await health(build.container(svc.name), svc)
        assert "ok" in answer.lower() or "up" in answer.lower(), (svc.name, answer)


async def test_arm64_image_runs_under_emulation(pipeline, base):
    build = await pipeline.build(service=["ai-server"], platform=["linux/arm64"], base=base)
    container = build.container("ai-server", "linux/arm64")
    assert (await container.with_exec(["uname", "-m"]).stdout()).strip() == "aarch64"
    assert await container.platform() == "linux/arm64"


async def test_every_service_passes_its_tests_inside_a_container(pipeline, base):
    suite = await pipeline.test(base=base)
    assert {r.service for r in suite.runs} == {s.name for s in catalogue.BUILT}
    reports = await suite.reports()
    assert {"frontend", "backend", "ai-server"} <= {r.rstrip("/") for r in await reports.entries()}
    junit = await reports.file("ai-server/ai-server.xml").contents()
    assert "<testsuite" in junit and 'failures="0"' in junit


async def test_a_broken_test_fails_and_names_its_service(dagger_session, base, tmp_path):
    copy = source_copy(tmp_path, "ai-server")
    (copy / "services" / "ai-server" / "tests" / "test_deliberately_broken.py").write_text(
        "def test_contract_risk_is_scored():\n    assert 1 + 1 == 3, 'deliberately broken'\n"
    )
    broken = Dojangkok(source=dag.host().directory(str(copy)))
    with pytest.raises(TestsFailed) as failed:
        await broken.test(service=["ai-server"], base=base)
    message = str(failed.value)
    assert message.startswith("ai-server: tests failed")
    assert "test_deliberately_broken" in message and "deliberately broken" in message


@pytest.fixture(scope="module")
def moto():
    with aws_emulator() as emulator:
        yield emulator


def ecr_password(endpoint: str) -> str:
    client = boto3.client("ecr", region_name="ap-northeast-2", endpoint_url=endpoint,
                          aws_access_key_id="ci", aws_secret_access_key="ci")  # noqa: S106
    token = client.get_authorization_token()["authorizationData"][0]["authorizationToken"]
    return base64.b64decode(token).decode().partition(":")[2]


async def test_publish_with_ecr_credentials_to_an_authenticated_registry(pipeline, base, moto, capfd):
    password = ecr_password(moto.endpoint)
    with AuthRegistry(user="AWS", password=password) as registry:
        report = await pipeline.publish(
            env=Environment.dev, branch="feat/login", service=["ai-server", "frontend"], platform=platforms(),
            base=base, registry=registry.address, format=OutputFormat.json,
            aws_access_key_id=dag.set_secret("aws-id", "ci"),
            aws_secret_access_key=dag.set_secret("aws-key", "ci"),
            aws_endpoint_url=moto.endpoint,
        )
        api = registry.api()
        for name in ("ai-server", "frontend"):
            tags = api.tags(f"dojangkok/{name}")
            unique = next(t for t in tags if t.startswith("dev-feat-login-"))
            assert sorted(tags) == sorted([unique, "latest"])
            assert api.manifest(f"dojangkok/{name}", unique)[0] == api.manifest(f"dojangkok/{name}", "latest")[0]
            assert api.manifest(f"dojangkok/{name}", unique)[0] in report
        assert registry.refused_anonymous()  # the registry really demanded the password
    out, err = capfd.readouterr()
    assert password not in report + out + err


async def test_a_refused_push_leaves_latest_where_it_was(pipeline, base, tmp_path):
    args = {"env": Environment.dev, "service": ["vllm"], "platform": platforms(), "base": base}
    repository = "dojangkok/vllm"
    with RefusingProxy(engine.registry()) as proxy:
        first = await pipeline.publish(branch="main", registry=proxy.address, format=OutputFormat.json, **args)
        latest_before = proxy.api().manifest(repository, "latest")[0]
        assert latest_before in first

        # The next release changes the image, and the registry refuses its unique tag.
        copy = source_copy(tmp_path, "vllm")
        (copy / "services" / "vllm" / "serve.json").write_text(
            (copy / "services" / "vllm" / "serve.json").read_text() + "\n"
        )
        proxy.refuse_tags_starting_with("dev-release-")
        with pytest.raises(dagger.QueryError):
            await Dojangkok(source=dag.host().directory(str(copy))).publish(
                branch="release", registry=proxy.address, **args
            )
        assert proxy.api().manifest(repository, "latest")[0] == latest_before
        assert not [t for t in proxy.api().tags(repository) if t.startswith("dev-release-")]


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"env": Environment.dev, "branch": "feat/x", "service": ["payments"]}, ValueError, "unknown service"),
        ({"env": Environment.dev, "branch": "///"}, ValueError, "branch"),
        ({"env": Environment.prd, "version": "1.0.2", "commit": "a1b2c3d"}, ValueError, "version"),
        ({"env": Environment.prd, "version": "v1.0.2", "commit": "a1b2c3d"}, CredentialsError, "--aws-access-key-id"),
        (
            {"env": Environment.dev, "branch": "main", "base": ["NODEIMAGE=x"], "registry": "127.0.0.1:5000"},
            ValueError,
            "no Dockerfile takes",
        ),
    ],
)
async def test_bad_input_fails_before_any_build_or_push(pipeline, registry_api, kwargs, error, words):
    before = registry_api.catalog()
    with pytest.raises(error, match=words):
        await pipeline.publish(**kwargs)
    assert registry_api.catalog() == before

