"""Build, in the GCP fake, what production has before the pipeline's first deploy: per service a health-checked
zonal managed instance group on a first instance template, and optionally a Cloud Deploy pipeline.

Made through the same google-cloud clients and the same template builder the deploys use, so the fake holds
production-shaped resources. Used by the emulator test fixtures and by `python -m dojangkok_local.gcp --seed dev`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from dojangkok.deploy.rolling import GcpClients, RollingUpdate
from google.cloud import compute_v1, deploy_v1

SIZES = {"ai-server": 3, "vllm": 2}  # instances per group (the fake only; production sizes live in GCP)

# What the emulator tests and the benchmark seed: production's shape under made-up names.
PROJECT = "dojangkok-test"
REGION = "asia-northeast3"
ZONE = "asia-northeast3-b"  # has T4s
GROUPS = {"ai-server": "dojangkok-ai-server-prd", "vllm": "dojangkok-vllm-prd"}
PIPELINE = "dojangkok-gcp"
TARGET = "prd"


def first_image(region: str, project: str, repository: str, service: str, release: int = 1) -> str:
    """A made-up but well-formed Artifact Registry reference by digest, for release `release` of a service."""
    digest = hashlib.sha256(f"{service}-{release}".encode()).hexdigest()
    return f"{region}-docker.pkg.dev/{project}/{repository}/{service}:prod-v1.0.{release}-a1b2c3d@sha256:{digest}"


def release_image(service: str, release: int) -> str:
    """Release `release` of a service in the seeded project's Artifact Registry, by tag and digest."""
    return first_image(REGION, PROJECT, "dojangkok", service, release)


def health_check(project: str, service: str) -> str:
    return f"projects/{project}/global/healthChecks/dojangkok-{service}"


def finish(clients: GcpClients, operation: compute_v1.Operation) -> compute_v1.Operation:
    """Wait for a Compute operation through the operations clients (pointed at the same endpoint); raise its error."""
    project = operation.self_link.split("/projects/", 1)[1].split("/", 1)[0]
    while operation.status != compute_v1.Operation.Status.DONE:
        if operation.zone:
            operation = clients.zone_operations.wait(project=project, zone=operation.zone.rsplit("/", 1)[-1],
                                                     operation=operation.name)
        else:
            operation = clients.global_operations.wait(project=project, operation=operation.name)
    if operation.error and operation.error.errors:
        raise RuntimeError(f"operation {operation.name} failed: {operation.error.errors}")
    return operation


def seed_groups(clients: GcpClients, driver: RollingUpdate, groups: Mapping[str, str], images: Mapping[str, str],
                sizes: Mapping[str, int] | None = None) -> dict[str, str]:
    """One group per service (`groups`: service -> group name) on a template of `images[service]`.

    Returns service -> template name. The groups are health-checked, PROACTIVE with surge 1 and nothing
    unavailable, as the pipeline leaves them; the caller lets the fake settle them.
    """
    templates = {}
    for service, group in groups.items():
        template = driver.instance_template(service, images[service], group=group)
        finish(clients, clients.templates.insert_unary(project=driver.project, instance_template_resource=template))
        mig = compute_v1.InstanceGroupManager(
            name=group,
            base_instance_name=group,
            instance_template=driver.template_url(template.name),
            target_size=(sizes or SIZES).get(service, 1),
            auto_healing_policies=[compute_v1.InstanceGroupManagerAutoHealingPolicy(
                health_check=health_check(driver.project, service), initial_delay_sec=300)],
            update_policy=compute_v1.InstanceGroupManagerUpdatePolicy(
                type_="PROACTIVE", minimal_action="REPLACE",
                max_surge=compute_v1.FixedOrPercent(fixed=1), max_unavailable=compute_v1.FixedOrPercent(fixed=0)),
        )
        finish(clients, clients.groups.insert_unary(project=driver.project, zone=driver.zone,
                                                   instance_group_manager_resource=mig))
        templates[service] = template.name
    return templates


def seed_pipeline(clients: GcpClients, project: str, region: str, pipeline: str, targets: tuple[str, ...]) -> str:
    """A serial delivery pipeline through `targets` (created too). Returns its resource name."""
    parent = f"projects/{project}/locations/{region}"
    for target in targets:
        clients.deploy.create_target(parent=parent, target_id=target, target=deploy_v1.Target(
            description=f"Dojangkok {target}", require_approval=False)).result()
    clients.deploy.create_delivery_pipeline(
        parent=parent, delivery_pipeline_id=pipeline,
        delivery_pipeline=deploy_v1.DeliveryPipeline(
            serial_pipeline=deploy_v1.SerialPipeline(stages=[deploy_v1.Stage(target_id=t) for t in targets])),
    ).result()
    return f"{parent}/deliveryPipelines/{pipeline}"


def seed_environment(endpoint: str, env: str, sizes: Mapping[str, int] | None = None) -> dict[str, str]:
    """Seed the groups (and pipeline, if configured) that deploy/environments.toml names for `env`, of `sizes`
    instances (default SIZES)."""
    from dojangkok.deploy.cloud_deploy import pipeline_and_target
    from dojangkok.deploy.rolling import gcp_clients

    from dojangkok_local import settings, startup_template

    gcp = settings(env).gcp
    clients = gcp_clients(gcp.project, endpoint=endpoint)
    driver = RollingUpdate(project=gcp.project, zone=gcp.zone, clients=clients,
                           startup_template=startup_template())
    groups = {service: g.instance_group for service, g in gcp.groups.items()}
    images = {s: first_image(gcp.region, gcp.project, gcp.repository, s) for s in groups}
    templates = seed_groups(clients, driver, groups, images, sizes)
    if gcp.delivery_pipeline:
        for service in groups:
            pipeline, target = pipeline_and_target(gcp.delivery_pipeline, env, service)
            seed_pipeline(clients, gcp.project, gcp.region, pipeline, (target,))
    return templates
