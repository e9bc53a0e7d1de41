"""RollingUpdate against the GCP fake, through the real google-cloud-compute REST clients."""

from __future__ import annotations

from collections import Counter

import pytest
from dojangkok.deploy import DeployError, Outcome
from dojangkok.deploy.rolling import LABEL_PREVIOUS, last_segment
from dojangkok_local import planned_calls
from dojangkok_local.gcp.seed import GROUPS, PROJECT, SIZES, ZONE, finish
from dojangkok_local.gcp.seed import release_image as image

pytestmark = pytest.mark.emulator


def group_state(clients, service):
    return clients.groups.get(project=PROJECT, zone=ZONE, instance_group_manager=GROUPS[service])


def instance_templates(clients, service):
    listed = clients.groups.list_managed_instances(project=PROJECT, zone=ZONE, instance_group_manager=GROUPS[service])
    return [last_segment(i.version.instance_template) for i in listed]


def history(gcp, service) -> list[tuple[int, int]]:
    """(healthy, live) instances of the group after each tick of the fake."""
    return gcp.fake.compute.groups[(PROJECT, ZONE, GROUPS[service])].history


def wire_counts(gcp) -> dict[str, int]:
    return dict(Counter(c["api"] for c in gcp.calls()))


def test_rolling_update_reaches_its_target(gcp, clients, rolling, production):
    # Someone left the group opportunistic: the deploy must send the whole policy, not rely on what is there.
    gcp.fake.compute.groups[(PROJECT, ZONE, GROUPS["ai-server"])].body["updatePolicy"] = {"type": "OPPORTUNISTIC"}
    before = len(history(gcp, "ai-server"))
    result = rolling().deploy("ai-server", image("ai-server", 2), group=GROUPS["ai-server"])

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.previous == production.templates["ai-server"]
    assert result.new != result.previous and result.new.startswith(GROUPS["ai-server"])
    assert result.api_calls == wire_counts(gcp)  # the driver's count is what went over the wire
    assert result.api_calls["compute.globalOperations.wait"] >= 1  # operations waited on the fake, not googleapis

    mig = group_state(clients, "ai-server")
    assert last_segment(mig.instance_template) == result.new
    assert mig.status.is_stable and mig.status.version_target.is_reached
    assert mig.update_policy.type_ == "PROACTIVE" and mig.update_policy.minimal_action == "REPLACE"
    assert mig.update_policy.max_surge.fixed == 1 and mig.update_policy.max_unavailable.fixed == 0
    assert mig.auto_healing_policies[0].health_check.endswith("dojangkok-ai-server")  # auto-healing kept
    # On the wire, not defaults read back: maxUnavailable 0 sent explicitly (GCP's default for it is not 0).
    sent = gcp.fake.compute.groups[(PROJECT, ZONE, GROUPS["ai-server"])].body["updatePolicy"]
    assert sent["maxUnavailable"] == {"fixed": 0} and sent["maxSurge"] == {"fixed": 1}
    assert instance_templates(clients, "ai-server") == [result.new] * SIZES["ai-server"]

    template = clients.templates.get(project=PROJECT, instance_template=result.new)
    assert template.properties.labels[LABEL_PREVIOUS] == result.previous
    # Gradual: never fewer healthy instances than the group's size, never more than one extra.
    during = history(gcp, "ai-server")[before:]
    assert len(during) > SIZES["ai-server"] * 2  # it took several steps
    assert min(healthy for healthy, _ in during) >= SIZES["ai-server"]
    assert max(live for _, live in during) == SIZES["ai-server"] + 1
    assert len({t for t in (instance_templates(clients, "vllm"))}) == 1  # the other group untouched


def test_vllm_template_is_a_g2_with_its_l4_and_terminates_on_maintenance(clients, rolling, production):
    result = rolling().deploy("vllm", image("vllm", 2), group=GROUPS["vllm"])
    assert result.outcome is Outcome.SUCCEEDED, result.detail

    props = clients.templates.get(project=PROJECT, instance_template=result.new).properties
    assert props.machine_type == "g2-standard-4"
    assert not props.guest_accelerators  # a G2 type comes with its L4; nothing to attach
    assert props.scheduling.on_host_maintenance == "TERMINATE"  # GPU hosts cannot live-migrate
    assert props.labels["dojangkok-service"] == "vllm"
    script = next(i.value for i in props.metadata.items if i.key == "startup-script")
    assert image("vllm", 2) in script and "MEMORY_MIB=16384" in script and "GPU=true" in script

    ai = clients.templates.get(project=PROJECT, instance_template=production.templates["ai-server"]).properties
    assert ai.machine_type == "n2d-standard-2" and not ai.guest_accelerators
    assert not ai.network_interfaces[0].access_configs  # private: no public address


def test_release_failing_health_goes_back_to_the_previous_template(gcp, clients, rolling, production):
    before = len(history(gcp, "ai-server"))
    bad = image("ai-server", 2)
    gcp.mark_unhealthy(image=bad)

    result = rolling().deploy("ai-server", bad, group=GROUPS["ai-server"])

    assert result.outcome is Outcome.ROLLED_BACK, result.detail
    assert "failing their health checks" in result.detail
    assert result.api_calls == wire_counts(gcp)
    mig = group_state(clients, "ai-server")
    assert last_segment(mig.instance_template) == production.templates["ai-server"]
    assert mig.status.is_stable
    assert instance_templates(clients, "ai-server") == [production.templates["ai-server"]] * SIZES["ai-server"]
    assert min(healthy for healthy, _ in history(gcp, "ai-server")[before:]) >= SIZES["ai-server"]  # no lost capacity


def test_release_that_never_stabilises_times_out_and_rolls_back(gcp, clients, clock, rolling, production):
    gcp.mark_unhealthy(image=image("vllm", 2))
    driver = rolling(failing_polls=0, timeout=900)  # only the timeout can end it

    result = driver.deploy("vllm", image("vllm", 2), group=GROUPS["vllm"])

    assert result.outcome is Outcome.ROLLED_BACK, result.detail
    assert "within 900s" in result.detail
    assert clock.now >= 900
    assert last_segment(group_state(clients, "vllm").instance_template) == production.templates["vllm"]
    assert result.api_calls["compute.instanceGroupManagers.patch"] == 2  # forward, then back


@pytest.mark.parametrize("service", sorted(GROUPS))
def test_rollback_returns_each_service_to_its_previous_release(gcp, clients, rolling, production, service):
    deployed = rolling().deploy(service, image(service, 2), group=GROUPS[service])
    assert deployed.outcome is Outcome.SUCCEEDED, deployed.detail

    result = rolling().rollback(service, group=GROUPS[service])

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert (result.previous, result.new) == (deployed.new, production.templates[service])
    assert result.image == image(service, 1)
    mig = group_state(clients, service)
    assert last_segment(mig.instance_template) == production.templates[service] and mig.status.is_stable
    assert instance_templates(clients, service) == [production.templates[service]] * SIZES[service]


def test_rollback_with_no_history_says_so(gcp, rolling, production):
    with pytest.raises(DeployError, match="nothing to roll back to"):
        rolling().rollback("ai-server", group=GROUPS["ai-server"])


def test_transient_errors_are_retried(gcp, rolling, production):
    gcp.fail("compute.instanceGroupManagers.patch", status=503, times=2)
    gcp.fail("compute.instanceTemplates.insert", status=429, times=1)

    result = rolling().deploy("ai-server", image("ai-server", 2), group=GROUPS["ai-server"])

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert result.api_calls["compute.instanceGroupManagers.patch"] == 3
    assert result.api_calls["compute.instanceTemplates.insert"] == 2
    assert result.api_calls == wire_counts(gcp)


def test_deploying_what_runs_changes_nothing(gcp, rolling, production):
    result = rolling().deploy("ai-server", image("ai-server", 1), group=GROUPS["ai-server"])
    assert result.outcome is Outcome.SUCCEEDED
    assert result.new == result.previous == production.templates["ai-server"]
    assert [c["api"] for c in gcp.calls()] == ["compute.instanceGroupManagers.get"]


@pytest.mark.parametrize(
    ("service", "ref", "message"),
    [
        ("nope", image("ai-server", 2), "unknown service"),
        ("frontend", image("ai-server", 2), "not by a GCP rolling update"),
        ("ai-server", "asia-northeast3-docker.pkg.dev/p/dojangkok/ai-server:latest", "not a reference by digest"),
        ("ai-server", "asia-northeast3-docker.pkg.dev/p/dojangkok/ai-server@sha256:1234", "not a reference by digest"),
        ("ai-server", "ai-server@sha256:" + "a" * 64, "not a reference by digest"),
    ],
)
def test_bad_input_fails_before_any_api_call(gcp, rolling, production, service, ref, message):
    driver = rolling()
    with pytest.raises(DeployError, match=message):
        driver.deploy(service, ref, group=GROUPS["ai-server"])
    with pytest.raises(DeployError, match=message):
        driver.plan(service, ref, group=GROUPS["ai-server"])
    assert gcp.calls() == []


def test_bad_target_fails_before_any_api_call(gcp, rolling, production):
    with pytest.raises(DeployError, match="not a GCP resource name"):
        rolling().deploy("ai-server", image("ai-server", 2), group="Bad_Group")
    with pytest.raises(DeployError, match="unknown service"):
        rolling().rollback("nope", group=GROUPS["ai-server"])
    with pytest.raises(DeployError, match="no GCP zone"):
        rolling(zone="").deploy("ai-server", image("ai-server", 2), group=GROUPS["ai-server"])
    assert gcp.calls() == []


def test_plan_lists_the_calls_and_makes_none(gcp, rolling, production):
    steps = rolling().plan("vllm", image("vllm", 2), group=GROUPS["vllm"])
    assert [s.api for s in steps][:4] == [
        "compute.instanceGroupManagers.get",
        "compute.instanceTemplates.insert",
        "compute.globalOperations.wait",
        "compute.instanceGroupManagers.patch",
    ]
    insert = steps[1].body
    assert insert["properties"]["machine_type"] == "g2-standard-4"
    assert steps[3].body["update_policy"]["type_"] == "PROACTIVE"
    assert gcp.calls() == []


def test_dagger_plan_names_the_calls_a_deploy_makes(gcp, rolling, production):
    result = rolling().deploy("vllm", image("vllm", 2), group=GROUPS["vllm"])

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert planned_calls("vllm") == list(wire_counts(gcp))  # each call named once, in first-use order


def test_group_without_a_health_check_is_refused(gcp, clients, rolling, production):
    from google.cloud import compute_v1

    driver = rolling()
    unchecked = compute_v1.InstanceGroupManager(name="dojangkok-ai-server-unchecked", target_size=1,
                                                instance_template=driver.template_url(production.templates["ai-server"]))
    finish(clients, clients.groups.insert_unary(project=PROJECT, zone=ZONE, instance_group_manager_resource=unchecked))
    with pytest.raises(DeployError, match="no auto-healing health check"):
        driver.deploy("ai-server", image("ai-server", 2), group="dojangkok-ai-server-unchecked")


def test_missing_credentials_fail_before_any_call(gcp, monkeypatch, tmp_path):
    from dojangkok.deploy.rolling import gcp_clients

    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))  # no gcloud application-default login
    monkeypatch.setenv("NO_GCE_CHECK", "True")  # not on a GCE VM: do not ask a metadata server
    with pytest.raises(DeployError, match="no Google credentials"):
        gcp_clients(PROJECT)
    with pytest.raises(DeployError, match="no GCP project"):
        gcp_clients("", endpoint=gcp.endpoint)
    assert gcp.calls() == []


def test_the_fake_runs_as_a_command(tmp_path):
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    from dojangkok_local.registry import free_port

    port = free_port()
    fake = subprocess.Popen([sys.executable, "-m", "dojangkok_local.gcp", "--port", str(port)],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert "on http://127.0.0.1:" in fake.stdout.readline()
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_fake/calls", timeout=2) as response:
                    assert json.load(response) == {"calls": []}
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        fake.terminate()
        fake.wait(timeout=10)


def test_rollback_of_hand_made_templates_goes_by_creation_time(gcp, clients, rolling, production):
    """Templates made outside the pipeline carry no dojangkok-previous label: the newest older one is used."""
    driver = rolling()
    group = GROUPS["ai-server"]
    for name in (f"{group}-hand-1", f"{group}-hand-2"):
        template = driver.instance_template("ai-server", image("ai-server", 7), group=group)
        template.name = name
        finish(clients, clients.templates.insert_unary(project=PROJECT, instance_template_resource=template))
    finish(clients, clients.groups.patch_unary(project=PROJECT, zone=ZONE, instance_group_manager=group,
                                               instance_group_manager_resource=driver.update_patch(f"{group}-hand-2")))
    gcp.settle()

    result = driver.rollback("ai-server", group=group)

    assert result.outcome is Outcome.SUCCEEDED, result.detail
    assert (result.previous, result.new) == (f"{group}-hand-2", f"{group}-hand-1")
    assert last_segment(group_state(clients, "ai-server").instance_template) == f"{group}-hand-1"
