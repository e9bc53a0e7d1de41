"""The deploy plan: content for dev and prd, JSON and text carry the same data, bad input refused first,
nothing touched. The `plan` function itself runs through the real CLI in tests/engine/test_cli.py."""

import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dojangkok.catalogue import BUILT
from dojangkok.environments import Environment, SettingsError, UnknownEnvironmentError
from dojangkok.plan import (
    Plan,
    PlanError,
    check_signing,
    format_memory,
    make_plan,
)
from dojangkok.report import OutputFormat
from dojangkok.tags import TagError, is_valid_tag

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SETTINGS_TEXT = (REPO / "deploy" / "environments.toml").read_text()
NOON = datetime(2026, 1, 12, 14, 0, tzinfo=UTC)
SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """A plan must never open a connection."""

    def refuse(*args, **kwargs):
        raise AssertionError("the plan tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def prd(**kwargs) -> Plan:
    return make_plan("prd", **{"version": "v1.0.2", "commit": SHA, "when": NOON, "settings_text": SETTINGS_TEXT,
                              **kwargs})


def dev(**kwargs) -> Plan:
    return make_plan("dev", **{"branch": "feat/login", "when": NOON, "settings_text": SETTINGS_TEXT, **kwargs})


def by_name(plan: Plan) -> dict:
    return {s.service: s for s in plan.services}


def test_prd_plan_content():
    plan = prd()
    assert plan.environment == "prd"
    assert plan.tag == "prod-v1.0.2-a1b2c3d"
    assert plan.latest_tag == "latest"
    assert plan.version == "v1.0.2" and plan.commit == SHA
    assert [s.service for s in plan.services] == ["frontend", "backend", "ai-server", "vllm"]
    assert plan.not_built == ("chromadb", "mysql", "mongo", "redis")
    assert plan.deploy_timeout_minutes == 45

    s = by_name(plan)
    ecr = "210987654321.dkr.ecr.ap-northeast-2.amazonaws.com"
    assert s["frontend"].registry == ecr
    assert s["frontend"].image == f"{ecr}/dojangkok/frontend:prod-v1.0.2-a1b2c3d"
    assert s["frontend"].latest == f"{ecr}/dojangkok/frontend:latest"
    assert s["frontend"].platforms == ("linux/arm64",)
    assert s["frontend"].strategy == "blue-green"
    assert s["frontend"].target == "dojangkok-prd/dojangkok-prd-frontend-bg"
    assert s["frontend"].target_details["auto_scaling_group"] == "dojangkok-prd-frontend-asg"
    assert s["frontend"].target_details["target_group"] == "dojangkok-prd-frontend-tg"
    assert s["frontend"].target_details["bundle_bucket"] == "s3://dojangkok-prd-codedeploy-bundles"
    assert s["frontend"].resources == "1 GiB / 1 vCPU, m7g.medium"
    assert s["backend"].resources == "2 GiB / 1 vCPU, m7g.medium"

    ar = "asia-northeast3-docker.pkg.dev"
    assert s["vllm"].registry == ar
    assert s["vllm"].image == f"{ar}/dojangkok-prd/dojangkok/vllm:prod-v1.0.2-a1b2c3d"
    assert s["vllm"].platforms == ("linux/amd64",)
    assert s["vllm"].strategy == "rolling"
    assert s["vllm"].target == (
        "projects/dojangkok-prd/zones/asia-northeast3-b/instanceGroupManagers/dojangkok-prd-vllm-mig"
    )
    assert (s["vllm"].instance_type, s["vllm"].accelerator) == ("g2-standard-4", "nvidia-l4")
    assert (s["vllm"].memory_mib, s["vllm"].cpus) == (16384, 4)
    assert s["vllm"].resources == "16 GiB / 4 vCPU, g2-standard-4 + nvidia-l4"
    assert s["ai-server"].platforms == ("linux/arm64", "linux/amd64")  # one index for Arm and x86 machines
    assert s["ai-server"].resources == "1 GiB / 2 vCPU, n2d-standard-2"


def test_dev_plan_content():
    plan = dev()
    assert plan.environment == "dev"
    assert plan.tag == "dev-feat-login-202601121400"
    assert plan.planned_at == "2026-01-12T14:00:00+00:00"
    assert plan.branch == "feat/login" and plan.version == "" and plan.commit == ""
    s = by_name(plan)
    assert s["backend"].image == (
        "123456789012.dkr.ecr.ap-northeast-2.amazonaws.com/dojangkok/backend:dev-feat-login-202601121400"
    )
    assert s["ai-server"].image == (
        "asia-northeast3-docker.pkg.dev/dojangkok-dev/dojangkok/ai-server:dev-feat-login-202601121400"
    )
    assert s["backend"].target == "dojangkok-dev/dojangkok-dev-backend-bg"
    assert s["ai-server"].target.endswith("/instanceGroupManagers/dojangkok-dev-ai-server-mig")
    assert plan.deploy_timeout_minutes == 30


def test_every_built_service_matches_the_catalogue():
    plan = prd()
    assert len(plan.services) == len(BUILT)
    for svc, planned in zip(BUILT, plan.services, strict=True):
        assert planned.service == svc.name
        assert planned.platforms == svc.platforms
        assert planned.strategy == str(svc.strategy)
        assert planned.cloud == str(svc.cloud)
        assert planned.memory_mib == svc.memory_mib and planned.cpus == svc.cpus
        assert planned.image.endswith(f"/{svc.name}:{plan.tag}")
        assert is_valid_tag(planned.image.rsplit(":", 1)[1])


def test_selected_services_only_in_catalogue_order():
    assert [s.service for s in prd(services=["vllm", "frontend"]).services] == ["frontend", "vllm"]
    assert [s.service for s in prd(services=["vllm,ai-server"]).services] == ["ai-server", "vllm"]
    assert [s.service for s in prd(services=[]).services] == [s.name for s in BUILT]


def test_registry_override_sends_everything_to_the_local_registry():
    plan = dev(registry_override="127.0.0.1:5000")
    for s in plan.services:
        assert s.registry == "127.0.0.1:5000"
        assert s.image == f"127.0.0.1:5000/dojangkok/{s.service}:dev-feat-login-202601121400"
        assert s.latest == f"127.0.0.1:5000/dojangkok/{s.service}:latest"
        assert not any(call.startswith("ecr:") for call in s.api_calls)  # no ECR password needed
    assert plan.registry_override == "127.0.0.1:5000"
    assert any(call.startswith("ecr:") for call in by_name(dev())["frontend"].api_calls)  # ECR's is needed


def test_cloud_deploy_pipeline_when_configured():
    plan = prd(overrides={"DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE": "dojangkok-ai"})
    s = by_name(plan)
    assert s["vllm"].target == "projects/dojangkok-prd/locations/asia-northeast3/deliveryPipelines/dojangkok-ai"
    direct = by_name(prd())
    assert s["vllm"].api_calls != direct["vllm"].api_calls  # a release and a rollout instead of a group patch
    assert s["vllm"].on_failure != direct["vllm"].on_failure
    assert s["frontend"] == direct["frontend"]  # AWS is unaffected


def test_overrides_reach_the_plan():
    plan = prd(overrides={"DOJANGKOK_PRD_AWS_REGION": "us-east-1", "DOJANGKOK_PRD_GCP_REGION": "us-central1",
                        "DOJANGKOK_PRD_GCP_ZONE": "us-central1-a"})  # fmt: skip
    s = by_name(plan)
    assert s["frontend"].registry == "210987654321.dkr.ecr.us-east-1.amazonaws.com"
    assert s["ai-server"].registry == "us-central1-docker.pkg.dev"


def test_the_plan_names_each_environments_own_deploy_lock():
    assert prd().deploy_lock == "s3://dojangkok-prd-codedeploy-bundles/locks/deploy.json"
    moved = dev(overrides={"DOJANGKOK_DEV_AWS_BUNDLE_BUCKET": "elsewhere"})
    assert moved.deploy_lock == "s3://elsewhere/locks/deploy.json"
    assert "deploy lock" in prd().to_text() and "one release" in prd().to_text()


def test_the_plan_shows_the_analysis_gate_and_its_queries():
    assert "analysis gate  off: no [analysis] prometheus_url" in prd().to_text()  # the file names no Prometheus
    plan = prd(overrides={"DOJANGKOK_PRD_ANALYSIS_PROMETHEUS_URL": "https://prometheus.internal"})
    gate = plan.analysis
    assert gate["services"] == ["backend", "ai-server"] and (gate["p95_ms"], gate["error_percent"]) == (500, 10)
    assert 'service="backend"' in gate["queries"]["backend"]["p95"]  # each service's own queries, filled in
    p95 = gate["queries"]["ai-server"]["p95"]
    assert 'service="ai-server"' in p95 and "[300s]" in p95
    text = plan.to_text()
    assert "ai-server: 300 s after taking all traffic, p95 <= 500 ms and errors <= 10 %" in text
    assert "analysis errors" in text
    given = make_plan("dev", branch="main", when=NOON, settings_text=SETTINGS_TEXT, services=["frontend"],
                      prometheus_given=True)
    assert "judges none of these services (it judges backend, ai-server: 60 s" in given.to_text()


def test_dev_commit_is_optional_but_checked():
    assert dev(commit="ABCDEF0123").commit == "abcdef0123"
    with pytest.raises(TagError, match="not hexadecimal"):
        dev(commit="main")


def test_aware_time_is_reported_in_utc():
    from datetime import timedelta, timezone

    kst = datetime(2026, 1, 12, 23, 0, tzinfo=timezone(timedelta(hours=9)))
    plan = make_plan("dev", branch="main", when=kst, settings_text=SETTINGS_TEXT)
    assert plan.tag == "dev-main-202601121400"
    assert plan.planned_at == "2026-01-12T14:00:00+00:00"


# ------------------------------------------------------------------------------------------ text and JSON


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


@pytest.mark.parametrize(
    "plan",
    [
        prd,
        dev,
        lambda: dev(registry_override="127.0.0.1:5000", services=["vllm"], commit=SHA),
        lambda: prd(overrides={"DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE": "dojangkok-ai"}),
    ],
)
def test_json_and_text_carry_the_same_data(plan):
    made = plan()
    data = json.loads(made.render(OutputFormat.json))
    assert data == made.as_dict()
    text = made.render("text")
    for leaf in _leaves({k: v for k, v in data.items() if k != "services"}):
        assert str(leaf) in text, leaf
    for svc in data["services"]:
        block = text[text.index(f"\n{svc['service']}:\n") :]
        for key in ("image", "latest", "registry", "target", "on_failure"):
            assert svc[key] in block, (svc["service"], key)
        for value in (*svc["target_details"].values(), *svc["api_calls"], *svc["platforms"]):
            assert value in text
        calls = block[block.index("api calls") :].splitlines()[: len(svc["api_calls"])]
        assert [line.split()[-1] for line in calls] == svc["api_calls"]  # one per line, in order
        resources = f"{format_memory(svc['memory_mib'])} / {svc['cpus']:g} vCPU, {svc['instance_type']}"
        assert resources in text
        for word in (svc["cloud"], svc["strategy"], svc["accelerator"]):
            assert word in text


def test_text_is_a_readable_table():
    text = prd().to_text()
    lines = text.splitlines()
    assert lines[0] == "Deploy plan for prd (nothing was built, pushed or deployed)"
    header = next(line for line in lines if line.startswith("service "))
    assert header.split() == ["service", "cloud", "platforms", "strategy", "target", "resources"]
    row = next(line for line in lines if line.startswith("frontend "))
    assert row.split()[:5] == ["frontend", "aws", "linux/arm64", "blue-green", "dojangkok-prd-frontend-bg"]
    assert re.search(r"not built or deployed by the pipeline\s+chromadb, mysql, mongo, redis", text)
    assert all(len(line) <= 160 for line in lines)


def test_json_is_plain_data():
    data = json.loads(prd().to_json())
    assert data["tag"] == "prod-v1.0.2-a1b2c3d"
    assert isinstance(data["services"], list) and isinstance(data["services"][0]["platforms"], list)


# ------------------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"env": "prod", "version": "v1.0.2", "commit": SHA}, UnknownEnvironmentError, "valid environments"),
        ({"env": "staging", "branch": "main"}, UnknownEnvironmentError, "dev, prd"),
        ({"env": "", "branch": "main"}, UnknownEnvironmentError, "dev, prd"),
        ({"env": "dev"}, TagError, "branch is empty"),
        ({"env": "dev", "branch": "///"}, TagError, "no letters or digits"),
        ({"env": "dev", "branch": "main", "version": "v1.0.2"}, PlanError, "--version v1.0.2 is for --env prd"),
        ({"env": "prd", "branch": "main", "version": "v1.0.2", "commit": SHA}, PlanError, "is for --env dev"),
        ({"env": "prd", "version": "1.0.2", "commit": SHA}, TagError, "did you mean 'v1.0.2'"),
        ({"env": "prd", "version": "v1.0", "commit": SHA}, TagError, "vMAJOR.MINOR.PATCH"),
        ({"env": "prd", "version": "v1.0.2+5", "commit": SHA}, TagError, "build metadata"),
        ({"env": "prd", "version": "v1.0.2"}, TagError, "commit is empty"),
        ({"env": "prd", "version": "v1.0.2", "commit": "abc"}, TagError, "too short"),
        ({"env": "prd", "version": "v1.0.2", "commit": "xyz1234"}, TagError, "not hexadecimal"),
        ({"env": "dev", "branch": "main", "services": ["chromadb"]}, ValueError, "unknown service 'chromadb'"),
        ({"env": "dev", "branch": "main", "services": ["web"]}, ValueError, "frontend, backend, ai-server, vllm"),
        ({"env": "dev", "branch": "main", "registry_override": "http://x"}, SettingsError, "without a scheme"),
    ],
)
def test_bad_input_is_refused(kwargs, error, message):
    with pytest.raises(error, match=message):
        make_plan(when=NOON, settings_text=SETTINGS_TEXT, **kwargs)


def test_inputs_are_checked_before_the_settings_are_read():
    # Settings that cannot be parsed: the input error still comes first, so it was checked before.
    with pytest.raises(TagError):
        make_plan("prd", version="1.0.2", commit=SHA, settings_text="not toml [")
    with pytest.raises(ValueError, match="unknown service"):
        make_plan("dev", branch="main", services=["nope"], settings_text="not toml [")
    with pytest.raises(SettingsError, match="not valid TOML"):
        make_plan("dev", branch="main", settings_text="not toml [")


def test_a_stray_override_is_refused_rather_than_ignored():
    with pytest.raises(SettingsError, match="DOJANGKOK_DEV_AWS_REGON"):
        make_plan("dev", branch="main", settings_text=SETTINGS_TEXT, overrides={"DOJANGKOK_DEV_AWS_REGON": "x"})


def test_prd_plan_says_a_deploy_needs_signing_and_lists_the_checks_once_declared():
    unsigned = prd().to_text()
    assert "signed images required in prd; signing not declared: deploy refuses to run" in unsigned
    signed = prd(signing_given=True).to_text()
    for check in ("signature", "provenance", "sbom"):
        assert re.search(rf"check {check}\s+\S", signed), check
    assert not re.search(r"check (signature|provenance|sbom)", dev().to_text())
    assert "images pushed unsigned, nothing verified" in dev().to_text()


def test_a_roll_out_to_prd_without_a_key_pair_is_refused_and_dev_is_not():
    with pytest.raises(PlanError, match="prd rolls out only signed, verified images: declare with-signing"):
        check_signing(Environment.prd, signing_given=False)
    check_signing(Environment.prd, signing_given=True)
    check_signing(Environment.dev, signing_given=False)
