"""What a deploy would do, worked out without touching any cloud or registry.

``make_plan`` validates everything a release needs (environment, branch or version + commit, services, registry
override, environment settings) and returns, for every built service (or the selected ones): the image reference
with its unique tag, the ``latest`` reference, the registry, the platforms, the deploy strategy and target, the
resources and the cloud API calls the deploy would make, as the drivers make them (``deploy.calls``).
``Plan.to_text`` and ``Plan.to_json`` render the same data.

Plain Python, importable without a Dagger engine; ``dagger call plan`` is a thin wrapper around ``make_plan``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from . import machines, provenance, tags
from .catalogue import BUILT, SERVICES, Cloud, RegistryKind, Service, Strategy, select
from .deploy import calls
from .deploy.analysis import AnalysisGate
from .deploy.lock import LOCK_KEY
from .environments import Environment, Settings, check_registry_override, environment, load
from .report import OutputFormat, Section, render


class PlanError(ValueError):
    """The release inputs do not fit the environment (e.g. a version for dev); the message names the fix."""


# publish's one cloud API call: the ECR password for the push (credentials.AwsAccess.ecr_password). Artifact Registry
# takes the access token as it is, and the pushes themselves are OCI requests, not listed.
ECR_LOGIN = "ecr:GetAuthorizationToken"


@dataclass(frozen=True)
class ServicePlan:
    service: str
    cloud: str
    registry: str
    image: str  # repository:unique-tag; deploys then use the digest publish returns
    latest: str  # repository:latest, moved only after the unique tag was pushed
    platforms: tuple[str, ...]
    strategy: str
    target: str  # deployment group / instance group manager / delivery pipeline
    target_details: dict[str, str]
    instance_type: str
    accelerator: str
    memory_mib: int
    cpus: float
    api_calls: tuple[str, ...]
    on_failure: str

    @property
    def resources(self) -> str:
        machine = " + ".join(part for part in (self.instance_type, self.accelerator) if part)
        return f"{format_memory(self.memory_mib)} / {format_cpus(self.cpus)} vCPU, {machine}"


@dataclass(frozen=True)
class Plan:
    environment: str
    tag: str
    latest_tag: str
    branch: str
    version: str
    commit: str
    planned_at: str  # ISO 8601 UTC; the minute of a dev tag
    registry_override: str
    deploy_timeout_minutes: int
    health_check_timeout_seconds: int
    worst_case_minutes: int  # the rollouts' longest run (Settings.worst_case_minutes)
    deploy_lock: str  # the environment's lock record, taken before the build and given back at the end
    analysis: dict  # the gate: Prometheus, window, thresholds and queries per gated service
    supply_chain: dict  # whether images are signed and verified, and the checks made before the roll-out
    services: tuple[ServicePlan, ...]
    not_built: tuple[str, ...]  # catalogue services the pipeline neither builds nor deploys

    def as_dict(self) -> dict:
        data = asdict(self)
        for svc in data["services"]:
            svc["platforms"] = list(svc["platforms"])
            svc["api_calls"] = list(svc["api_calls"])
        data["services"] = list(data["services"])
        data["not_built"] = list(data["not_built"])
        return data

    def to_json(self) -> str:
        return json.dumps(self.as_dict(), indent=2) + "\n"

    def to_text(self) -> str:
        return self.render(OutputFormat.text)

    def render(self, fmt: OutputFormat | str) -> str:
        title = f"Deploy plan for {self.environment} (nothing was built, pushed or deployed)"
        return render(title, _sections(self), self.as_dict(), fmt)


def format_memory(mib: int) -> str:
    return f"{mib // 1024} GiB" if mib % 1024 == 0 else f"{mib} MiB"


def format_cpus(cpus: float) -> str:
    return f"{cpus:g}"


# ---------------------------------------------------------------------------------------------- validation


def release_tag(
    env: Environment, *, branch: str = "", version: str = "", commit: str = "", when: datetime | None = None
) -> str:
    """The unique tag of this release in ``env``: dev from branch + time, prd from version + commit."""
    if env is Environment.dev:
        if version:
            raise PlanError(
                f"--version {version} is for --env prd; a dev release is tagged from its branch and the time "
                "(pass --branch, e.g. --branch main)"
            )
        if commit:
            tags.short_commit(commit)  # optional for dev, but never wrong
        return tags.dev_tag(branch, when if when is not None else datetime.now(UTC))
    if branch:
        raise PlanError(
            f"--branch {branch} is for --env dev; a prd release is tagged from --version and --commit "
            "(e.g. --version v1.0.2 --commit $(git rev-parse HEAD))"
        )
    return tags.prod_tag(version, commit)


def service_names(names: Sequence[str] | None) -> list[str]:
    """Service names as given, with comma-separated lists split (``--service frontend,backend``)."""
    return [name.strip() for entry in names or () for name in entry.split(",") if name.strip()]


def check_inputs(
    env: str | Environment,
    *,
    branch: str = "",
    version: str = "",
    commit: str = "",
    services: Sequence[str] | None = None,
    when: datetime | None = None,
    registry_override: str = "",
) -> tuple[Environment, str, tuple[Service, ...], str]:
    """Environment, unique tag, services and registry override of a release, each validated; raises the first
    problem as a ``ValueError`` subclass. Needs no settings, so callers run it before reading anything."""
    which = environment(env)
    tag = release_tag(which, branch=branch, version=version, commit=commit, when=when)
    chosen = select(service_names(services) or None)
    machines.check(chosen)  # a release its machines could not run is refused before anything else
    override = check_registry_override(registry_override) if registry_override else ""
    return which, tag, chosen, override


def _target(svc: Service, settings: Settings) -> tuple[str, dict[str, str], calls.StrategyCalls]:
    """Where the service's deploy goes, and the calls of the strategy that rolls it out (release.Drivers.rollout
    picks the same)."""
    if svc.strategy is Strategy.BLUE_GREEN:
        aws, group = settings.aws, settings.aws.groups[svc.name]
        details = {
            "codedeploy_application": aws.codedeploy_application,
            "deployment_group": group.deployment_group,
            "auto_scaling_group": group.auto_scaling_group,
            "target_group": group.target_group,
            "bundle_bucket": f"s3://{aws.bundle_bucket}",
            "region": aws.region,
        }
        return f"{aws.codedeploy_application}/{group.deployment_group}", details, calls.BLUE_GREEN
    gcp, group = settings.gcp, settings.gcp.groups[svc.name]
    details = {"project": gcp.project, "zone": gcp.zone, "instance_group": group.instance_group}
    if gcp.delivery_pipeline:
        details["delivery_pipeline"] = gcp.delivery_pipeline
        target = f"projects/{gcp.project}/locations/{gcp.region}/deliveryPipelines/{gcp.delivery_pipeline}"
        return target, details, calls.CLOUD_DEPLOY
    target = f"projects/{gcp.project}/zones/{gcp.zone}/instanceGroupManagers/{group.instance_group}"
    return target, details, calls.ROLLING


def _api_calls(svc: Service, strategy: calls.StrategyCalls) -> tuple[str, ...]:
    """The cloud API calls of the service's publish and deploy, each named once in first-use order; AWS's in the
    form its IAM policies name them (service:Operation)."""
    login = [ECR_LOGIN] if svc.registry is RegistryKind.ECR else []
    deploy = [api.replace(".", ":", 1) if svc.cloud is Cloud.AWS else api for api in strategy.deploy]
    return tuple(dict.fromkeys(login + deploy))


def make_plan(
    env: str | Environment,
    *,
    branch: str = "",
    version: str = "",
    commit: str = "",
    services: Sequence[str] | None = None,
    when: datetime | None = None,
    registry_override: str = "",
    settings_text: str,
    overrides: Mapping[str, str] | None = None,
    prometheus_given: bool = False,
    signing_given: bool = False,
) -> Plan:
    """The plan of a release of ``services`` (default: every built one) to ``env``.

    Everything is validated first, in this order, and any bad input raises a ``ValueError`` subclass naming the fix:
    the environment, the tag inputs, the services, the registry override, then the settings (``settings_text``, the
    text of ``deploy/environments.toml``, with ``overrides`` named like the override variables).
    """
    when = when if when is not None else datetime.now(UTC)
    which, tag, chosen, override = check_inputs(
        env,
        branch=branch,
        version=version,
        commit=commit,
        services=services,
        when=when,
        registry_override=registry_override,
    )
    settings = load(which, text=settings_text, environ=overrides or {})

    planned: list[ServicePlan] = []
    for svc in chosen:
        repository = settings.image_repository(svc, override)
        target, details, strategy = _target(svc, settings)
        api_calls = _api_calls(svc, strategy)
        if override:  # the stand-in registry needs no ECR password
            api_calls = tuple(c for c in api_calls if not c.startswith("ecr:"))
        planned.append(
            ServicePlan(
                service=svc.name,
                cloud=str(svc.cloud),
                registry=settings.registry(svc, override),
                image=f"{repository}:{tag}",
                latest=f"{repository}:{tags.LATEST}",
                platforms=svc.platforms,
                strategy=str(svc.strategy),
                target=target,
                target_details=details,
                instance_type=svc.instance_type,
                accelerator=svc.accelerator,
                memory_mib=svc.memory_mib,
                cpus=svc.cpus,
                api_calls=api_calls,
                on_failure=strategy.on_failure,
            )
        )
    return Plan(
        environment=which.value,
        tag=tag,
        latest_tag=tags.LATEST,
        branch=branch,
        version=version,
        commit=commit.lower(),
        planned_at=when.astimezone(UTC).isoformat(timespec="seconds"),
        registry_override=override,
        deploy_timeout_minutes=settings.timeouts.deploy_minutes,
        worst_case_minutes=settings.worst_case_minutes,
        health_check_timeout_seconds=settings.timeouts.health_check_seconds,
        deploy_lock=f"s3://{settings.aws.bundle_bucket}/{LOCK_KEY}",
        analysis=_analysis(settings, tuple(s.name for s in chosen), prometheus_given),
        supply_chain=_supply_chain(which, signing_given),
        services=tuple(planned),
        not_built=tuple(s.name for s in SERVICES if s not in BUILT),
    )


def check_signing(env: Environment, signing_given: bool) -> None:
    """Refuse a roll-out to an environment that takes only signed images when no key pair was declared."""
    if env.value in provenance.SIGNED_ENVIRONMENTS and not signing_given:
        raise PlanError(
            f"{env.value} rolls out only signed, verified images: declare with-signing --public-key cosign.pub "
            "--key env:COSIGN_KEY --password env:COSIGN_PASSWORD before this function (docs/supply-chain.md)"
        )


def _supply_chain(env: Environment, signing_given: bool) -> dict:
    required = env.value in provenance.SIGNED_ENVIRONMENTS
    return {
        "policy": f"signed images {'required' if required else 'optional'} in {env.value}",
        "signing": "declared" if signing_given else "not declared",
        "checks": dict(provenance.CHECKS) if signing_given else {},
    }


def _supply_chain_lines(chain: dict) -> list[tuple[str, str]]:
    if chain["checks"]:
        doing = "each image signed, its SBOM and provenance attached; before the roll-out these checks"
    elif "required" in chain["policy"]:
        doing = "deploy refuses to run"
    else:
        doing = "images pushed unsigned, nothing verified"
    lines = [("supply chain", f"{chain['policy']}; signing {chain['signing']}: {doing}")]
    return lines + [(f"check {name}", what) for name, what in chain["checks"].items()]


def _analysis(settings: Settings, services: tuple[str, ...], prometheus_given: bool) -> dict:
    gate = settings.analysis
    where = "with-prometheus" if prometheus_given else gate.prometheus_url
    judged = [name for name in services if name in gate.gated] if where else []
    return {
        "prometheus": where,
        "services": judged,
        "gated": list(gate.gated),
        "window_seconds": gate.window_seconds,
        "p95_ms": gate.p95_ms,
        "error_percent": gate.error_percent,
        "queries": {name: dict(zip(("p95", "errors"), AnalysisGate(gate, where).queries(name), strict=True))
                    for name in judged},
    }


# ---------------------------------------------------------------------------------------------- text


def _gate_line(gate: dict) -> str:
    rule = (f"{gate['window_seconds']} s after taking all traffic, p95 <= {gate['p95_ms']} ms and errors <= "
            f"{gate['error_percent']} %, else rolled back")
    if not gate["prometheus"]:
        judged = ", ".join(gate["gated"])
        return f"off: no [analysis] prometheus_url and no with-prometheus (would judge {judged}: {rule})"
    if not gate["services"]:
        return f"judges none of these services (it judges {', '.join(gate['gated']) or 'none'}: {rule})"
    return f"{', '.join(gate['services'])}: {rule} ({gate['prometheus']})"


def _sections(plan: Plan) -> list[Section]:
    if plan.environment == Environment.prd:
        source = f"version {plan.version}, commit {plan.commit}"
    else:
        source = f"branch {plan.branch}" + (f", commit {plan.commit}" if plan.commit else "")
    summary = Section(rows=[
        ("tag", f"{plan.tag}, then {plan.latest_tag} once it is pushed"),
        ("source", source),
        ("planned at", plan.planned_at),
        ("registry", plan.registry_override or "ECR / Artifact Registry of the environment"),
        ("timeouts", f"deploy {plan.deploy_timeout_minutes} min, health check {plan.health_check_timeout_seconds} s"),
        ("worst case", f"the rollouts run up to {plan.worst_case_minutes} min (every wait at its bound, rollback "
                       "and put-back included): credentials and job timeouts must outlast it"),
        ("deploy lock", f"{plan.deploy_lock}: taken before the build, refused while another run holds it"),
        ("one release", "a service that misses it puts the others back on their previous release (--independent: "
                        "each keeps its outcome)"),
        ("analysis gate", _gate_line(plan.analysis)),
        *_supply_chain_lines(plan.supply_chain),
    ])
    # The overview names the target by its last segment; the full resource name follows per service.
    overview = Section(
        header=("service", "cloud", "platforms", "strategy", "target", "resources"),
        rows=[(s.service, s.cloud, ", ".join(s.platforms), s.strategy, s.target.rsplit("/", 1)[-1], s.resources)
              for s in plan.services],
    )
    sections = [summary, overview]
    for s in plan.services:
        rows = [
            ("image", s.image),
            ("latest", s.latest),
            ("registry", s.registry),
            ("digest", "resolved at publish; the deploy references the image by digest"),
            ("target", s.target),
            *((key.replace("_", " "), value) for key, value in s.target_details.items()),
            *((("api calls" if i == 0 else ""), call) for i, call in enumerate(s.api_calls)),
            ("on failure", s.on_failure),
            *((f"analysis {name}", query) for name, query in plan.analysis["queries"].get(s.service, {}).items()),
        ]
        sections.append(Section(title=f"{s.service}:", rows=rows))
    if plan.not_built:
        sections.append(Section(rows=[("not built or deployed by the pipeline", ", ".join(plan.not_built))]))
    return sections
