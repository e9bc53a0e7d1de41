"""deploy and rollback through the real CLI, end to end: engine build, local registry, emulated AWS and GCP.

The same path as production; only the registry (local) and the cloud endpoints (moto + our CodeDeploy front, the
GCP fake, handed over as host services) differ.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import boto3
import pytest
from dojangkok.deploy.lock import LOCK_KEY, LockRecord
from dojangkok_local import emulator_polls, releases, settings, signing
from dojangkok_local.aws.infra import provision
from dojangkok_local.aws.server import EmulatorControl
from dojangkok_local.drivers import emulated, what_runs
from dojangkok_local.engine.cli import Emulated, dagger, host_service, overrides
from dojangkok_local.gcp.seed import seed_environment

pytestmark = pytest.mark.engine

SERVICES = ",".join(releases.SERVICES)
# The emulators finish in seconds; poll as often as the setting allows (same code path as production).
FAST = overrides(emulator_polls("dev"))


def release(clouds, registry, *function: str, source=(), check: bool = True, fmt: str = "json",
            services: str = SERVICES, signed: signing.KeyPair | None = None):
    aws, gcp = clouds
    local = Emulated(registry, aws.endpoint, gcp.endpoint, signed).arguments()
    return dagger("call", *source, *FAST, *local, *function, "--service", services, "--format", fmt, check=check)


def deploy(clouds, registry, *args: str, branch: str = "main", **kwargs):
    return release(clouds, registry, "deploy", "--env", "dev", "--branch", branch, "--platform", "linux/amd64",
                   *args, **kwargs)


def publish(registry: str, commit: str, *, services: str = SERVICES, signed: signing.KeyPair | None = None
            ) -> dict[str, str]:
    """`dagger call publish` to dev of this commit: service -> the reference (by digest) deploy would roll out."""
    rows = json.loads(dagger("call", *Emulated(registry, signing=signed).arguments(), "publish", "--env", "dev",
                             "--branch", "main", "--commit", commit, "--service", services,
                             "--platform", "linux/amd64", "--format", "json").stdout)
    return {row["service"]: f"{row['reference'].rsplit(':', 1)[0]}@{row['digest']}" for row in rows}


def test_deploy_rolls_out_both_clouds_by_digest(images_built, clouds, registry, registry_api):
    aws, _ = clouds
    results = {r["service"]: r for r in json.loads(deploy(clouds, registry).stdout)}
    assert set(results) == set(SERVICES.split(","))
    for name, result in results.items():
        assert result["outcome"] == "succeeded", result
        repository, _, digest = result["image"].partition("@")
        assert repository == f"{registry}/dojangkok/{name}"
        assert registry_api.manifest(f"dojangkok/{name}", "latest")[0] == digest
    assert "blue-green" in results["frontend"]["strategy"]
    assert "rolling" in results["ai-server"]["strategy"]
    assert "CreateDeployment" in {c.get("operation") for c in aws.calls()}


def ask(clouds, registry, *function: str) -> list | dict:
    """A function that reads the environment's records, through the CLI, as JSON."""
    aws, gcp = clouds
    return json.loads(dagger("call", *Emulated(registry, aws.endpoint, gcp.endpoint).arguments(), *function,
                             "--format", "json").stdout)


def test_an_unhealthy_green_rolls_back_takes_the_other_cloud_back_and_is_on_record(images_built, clouds, registry,
                                                                                   registry_api):
    aws, _ = clouds
    dev = settings("dev").aws
    EmulatorControl(aws.endpoint).set_green_health(
        dev.codedeploy_application, dev.groups["frontend"].deployment_group, "unhealthy"
    )
    latest_before = {name: releases.latest(registry_api, name) for name in SERVICES.split(",")}
    commit = "f6" * 20
    failed = deploy(clouds, registry, "--commit", commit, "--commit-time", "2026-12-07T01:00:00Z", "--actor", "alice",
                    check=False, fmt="text")
    assert failed.returncode != 0 and failed.stdout.strip() == ""
    # latest names what runs: a release that did not land moves it nowhere
    assert {name: releases.latest(registry_api, name) for name in SERVICES.split(",")} == latest_before
    # The summary is the error: the broken service rolled back with traffic on blue, the service that had reached
    # the release on GCP reverted with the reason, so both clouds serve the release from before.
    assert "Deploy did not succeed everywhere" in failed.stderr
    assert re.search(r"frontend\s+codedeploy-blue-green\s+rolled-back", failed.stderr)
    assert re.search(r"ai-server\s+\S+\s+reverted", failed.stderr)
    assert re.search(r"ai-server\s+reverted because frontend rolled-back; back on \S+", failed.stderr)

    # On record: history shows the call, dora counts it as a failed release restored when the call ended.
    (row,) = ask(clouds, registry, "history", "--env", "dev")
    assert (row["action"], row["outcome"], row["commit"], row["actor"]) == ("deploy", "rolled-back", commit, "alice")
    assert {c["service"]: c["outcome"] for c in row["changes"]} == {"frontend": "rolled-back", "ai-server": "reverted"}
    assert row["cause"].startswith("frontend rolled-back: ")
    metrics = ask(clouds, registry, "dora", "--env", "dev", "--since", "1d")
    took = (datetime.fromisoformat(row["ended"]) - datetime.fromisoformat(row["started"])).total_seconds()
    assert (metrics["deployments"], metrics["failures"], metrics["change_failure_rate"]) == (1, 1, 1.0)
    assert metrics["time_to_restore_seconds"] == took and metrics["lead_time_seconds"] is None

    # Rejected by a person: deploy refuses the commit before the lock, a build, a push or a rollout.
    rejected = dagger("call", *Emulated(registry, aws.endpoint).arguments(), "reject", "--env", "dev",
                      "--commit", commit[:7], "--reason", "breaks contract uploads", "--actor", "bob").stdout
    for change in row["changes"]:
        assert change["image"].partition("@")[2] in rejected  # the digests its records name
    tags = {name: registry_api.tags(f"dojangkok/{name}") for name in SERVICES.split(",")}
    aws.reset_calls()
    refused = deploy(clouds, registry, "--commit", commit, check=False, fmt="text")
    assert refused.returncode != 0
    assert re.search(rf"commit {commit[:12]} was rejected in dev at \S+ by bob: breaks contract uploads",
                     refused.stderr)
    assert {name: registry_api.tags(f"dojangkok/{name}") for name in SERVICES.split(",")} == tags
    assert not {"PutObject", "CreateDeployment"} & {c.get("operation") for c in aws.calls()}
    drivers = emulated(settings("dev"), aws.endpoint, clouds[1].endpoint)
    assert [r.commit for r in drivers.records().read()] == [commit]  # the refused call left no record


def test_a_breach_on_backend_rolls_backend_back_and_takes_ai_server_back(images_built, clouds, registry,
                                                                         prometheus, serving):
    """The gate on the main service, through the CLI: backend's new release fails half its users (its jar, its fault
    switch, scraped by Prometheus as backend), Micrometer's metrics breach, backend goes back and ai-server, which
    reached the release on GCP, is reverted: both clouds on release 1."""
    gated = ("backend", "ai-server")
    first = releases.run(clouds, "dev", releases.images(registry, 1, gated))
    judged = overrides({"DOJANGKOK_DEV_ANALYSIS_SERVICES": "backend", "DOJANGKOK_DEV_ANALYSIS_WINDOW_SECONDS": "6"})
    commit = "b2" * 20
    with serving("backend", FAULT_ERROR_RATIO="0.5"):  # what users of the new backend release get
        failed = release(clouds, registry, "with-prometheus", "--endpoint", host_service(prometheus.url), "deploy",
                         "--env", "dev", "--branch", "main", "--platform", "linux/amd64", "--commit", commit,
                         source=judged, services=",".join(gated), check=False, fmt="text")
    assert failed.returncode != 0
    assert re.search(r"backend\s+codedeploy-blue-green\s+rolled-back", failed.stderr), failed.stderr[-3000:]
    assert re.search(r"ai-server\s+\S+\s+reverted", failed.stderr)
    assert releases.serving(clouds, "dev", gated) == first
    record = releases.drivers(clouds, "dev").records().read()[-1]
    assert (record.commit, record.outcome) == (commit, "rolled-back")
    assert re.search(r"backend rolled-back: analysis breached over 6 s: error rate \d+\.\d % > 10 % \(query .*"
                     r"http_server_requests_seconds_count", record.cause), record.cause


def test_a_cloud_error_mid_deploy_leaves_both_clouds_latest_and_the_lock_as_they_were(images_built, clouds, registry,
                                                                                    registry_api):
    aws, gcp = clouds
    drivers = emulated(settings("dev", environ=emulator_polls("dev")), aws.endpoint, gcp.endpoint)
    first = releases.run(clouds, "dev", releases.images(registry, 1))
    for name, image in first.items():
        registry_api.retag(f"dojangkok/{name}", image.partition("@")[2], "latest")  # as that release's deploy left it
    before = what_runs(drivers)
    gcp.fail("compute.instanceGroupManagers.patch", status=403)  # Google refuses the switch, AWS is mid-rollout

    failed = deploy(clouds, registry, check=False, fmt="text")
    assert failed.returncode != 0
    assert re.search(r"ai-server\s+rolling\s+rolled-back", failed.stderr)  # the summary names the error ...
    assert "could not switch" in failed.stderr and "403" in failed.stderr
    assert re.search(r"frontend\s+\S+\s+reverted", failed.stderr)  # ... and what it did about the other cloud
    assert what_runs(drivers) == before  # CodeDeploy's revision and the MIG's template: both as before the call
    assert {name: releases.latest(registry_api, name) for name in first} == {
        n: i.partition("@")[2] for n, i in first.items()}
    assert drivers.lock().holder() is None  # given back: nothing is still rolling


def test_a_deploy_lock_held_elsewhere_refuses_before_any_build_or_push(engine_env, clouds, registry, registry_api):
    aws, _ = clouds
    dev = settings("dev").aws
    s3 = boto3.Session(aws_access_key_id="emulator", aws_secret_access_key="emulator").client(  # noqa: S106
        "s3", endpoint_url=aws.endpoint, region_name=dev.region)
    held = LockRecord(environment="dev", holder="alice@laptop", action="deploy", release="dev-main-202612020101",
                      services=("backend",))
    s3.put_object(Bucket=dev.bundle_bucket, Key=LOCK_KEY, Body=held.to_json().encode())
    before = registry_api.catalog()
    refused = deploy(clouds, registry, "--commit", "c3" * 20, check=False, fmt="text")
    assert refused.returncode != 0
    holder = "deploy of dev-main-202612020101 (backend) by alice@laptop"
    assert f"dev is locked by another deploy: {holder}" in refused.stderr
    assert registry_api.catalog() == before and "CreateDeployment" not in {c.get("operation") for c in aws.calls()}


def test_rollback_returns_to_the_previous_release_and_latest_follows(engine_env, clouds, registry, registry_api):
    # dev ran two releases (rolled out as deploy rolls them out: deploying is the tests' above).
    first, second = (releases.run(clouds, "dev", releases.images(registry, n)) for n in (1, 2))
    for name, image in second.items():
        registry_api.retag(f"dojangkok/{name}", image.partition("@")[2], "latest")  # as deploy left it

    report = json.loads(release(clouds, registry, "rollback", "--env", "dev").stdout)
    assert {r["outcome"] for r in report} == {"succeeded"}
    for result in report:
        assert result["previous"] != result["new"]
        digest = first[result["service"]].partition("@")[2]
        assert result["image"].endswith(digest), result
        assert registry_api.manifest(f"dojangkok/{result['service']}", "latest")[0] == digest
    # On record: the rollback, and the commit it returned to.
    aws, gcp = clouds
    record = emulated(settings("dev"), aws.endpoint, gcp.endpoint).records().read()[-1]
    assert (record.action, record.outcome, record.commit) == ("rollback", "succeeded", releases.commit(1))


def test_rollback_refuses_a_release_whose_signature_does_not_verify_before_anything_moves(engine_env, clouds,
                                                                                         registry, key_pair):
    aws, gcp = clouds
    drivers = emulated(settings("dev", environ=emulator_polls("dev")), aws.endpoint, gcp.endpoint)
    for n in (1, 2):  # release 1 was never signed with the key the rollback verifies against
        releases.run(clouds, "dev", releases.images(registry, n))
    on_2 = what_runs(drivers)

    refused = release(clouds, registry, "rollback", "--env", "dev", check=False, fmt="text", signed=key_pair)
    assert refused.returncode != 0
    assert re.search(r"/dojangkok/[\w-]+@sha256:\w+: the signature check failed .+; nothing was rolled out",
                     refused.stderr)
    assert what_runs(drivers) == on_2  # nothing moved
    assert not {"CreateDeployment"} & {c.get("operation") for c in aws.calls()}
    assert "compute.instanceGroupManagers.patch" not in {c.get("api") for c in gcp.calls()}


def test_missing_credentials_fail_before_any_build_push_or_cloud_call(engine_env, clouds, registry, registry_api):
    aws, gcp = clouds
    before = registry_api.catalog()
    result = dagger("call", "with-registry", "--address", registry, "deploy", "--env", "dev", "--branch", "main",
                    check=False)
    assert result.returncode != 0 and "deploying to AWS needs credentials: call with-aws" in result.stderr
    assert aws.calls() == [] and gcp.calls() == []
    assert registry_api.catalog() == before


@pytest.fixture
def dev_and_prd(clouds):
    """dev as the clouds fixture made it, and prd beside it in the same emulators (one account, one fake)."""
    aws, gcp = clouds
    provision(aws.endpoint, env="prd")
    seed_environment(gcp.endpoint, "prd")
    gcp.settle()
    return clouds


def promote(clouds, registry, version: str, commit: str, **kwargs):
    fast = overrides(emulator_polls("prd"))  # dev's is in FAST: promote reads both
    return release(clouds, registry, "promote", "--version", version, "--commit", commit, source=fast, **kwargs)


def test_promote_rolls_out_to_prd_the_digests_dev_runs_without_building(images_built, dev_and_prd, registry,
                                                                       registry_api, key_pair):
    commit, later = "d4" * 20, "e5" * 20
    dev = releases.run(dev_and_prd, "dev", publish(registry, commit, signed=key_pair))

    promoted = promote(dev_and_prd, registry, "v1.4.0", commit, signed=key_pair)
    results = {r["service"]: r for r in json.loads(promoted.stdout)}
    assert "building" not in promoted.stderr  # no build step: the dev bytes, copied
    for name, result in results.items():
        assert result["outcome"] == "succeeded", result
        digest = dev[name].partition("@")[2]
        assert result["image"].partition("@")[2] == digest  # prd rolled out the very index dev runs
        assert registry_api.manifest(f"dojangkok/{name}", f"prod-v1.4.0-{commit[:7]}")[0] == digest
        assert registry_api.manifest(f"dojangkok/{name}", "latest")[0] == digest

    # dev moves on for one service: the same sources from another commit, a release of its own (the commit labels
    # the image: no rebuild, another digest). Promoting the first commit now mixes commits, so it is refused.
    moved = publish(registry, later, services="ai-server")
    assert moved["ai-server"] != dev["ai-server"]
    releases.run(dev_and_prd, "dev", moved)
    refused = promote(dev_and_prd, registry, "v1.4.1", commit, check=False, signed=key_pair)
    assert refused.returncode != 0
    assert f"dev does not run commit {commit} everywhere, nothing was pushed to prd" in refused.stderr
    assert re.search(rf"ai-server: dev runs \S+, built from {later}", refused.stderr)
    reason = next(line for line in refused.stderr.splitlines() if "dev does not run commit" in line)
    assert "frontend" not in reason  # frontend still runs the commit: only ai-server is named
    assert f"prod-v1.4.1-{commit[:7]}" not in registry_api.tags("dojangkok/frontend")


def test_promote_of_a_commit_dev_never_ran_is_refused_before_any_push(engine_env, dev_and_prd, registry,
                                                                     registry_api, key_pair):
    aws, _ = dev_and_prd
    before = registry_api.catalog()
    refused = promote(dev_and_prd, registry, "v2.0.0", "f6" * 20, check=False, signed=key_pair)
    assert refused.returncode != 0
    assert "frontend: dev runs no image this pipeline deployed" in refused.stderr
    assert "ai-server: dev runs" in refused.stderr  # the fake's seeded template: not an image of this commit
    assert registry_api.catalog() == before
    assert "CreateDeployment" not in {c.get("operation") for c in aws.calls()}
