"""Deploy environments ``dev`` and ``prd`` and their non-secret settings.

The settings live in ``deploy/environments.toml`` (AWS account and region, ECR prefix, CodeDeploy application,
deployment groups, Auto Scaling and target groups, S3 bundle bucket; GCP project, region, zone, Artifact Registry
repository, managed instance groups, optional Cloud Deploy pipeline; deploy timeouts). Credentials are not settings:
they enter the pipeline as ``dagger.Secret``.

Overrides: every setting can be replaced for one run by ``--override NAME=VALUE``, NAME the environment variable
named after the setting's path in the file (the harness, a plain Python process, also reads such variables)::

    DOJANGKOK_ + "_".join([env, *path]).upper(), with "-" written as "_"

    [prd.aws] region                     -> DOJANGKOK_PRD_AWS_REGION
    [dev.aws.frontend] deployment_group  -> DOJANGKOK_DEV_AWS_FRONTEND_DEPLOYMENT_GROUP
    [prd.gcp.ai-server] instance_group   -> DOJANGKOK_PRD_GCP_AI_SERVER_INSTANCE_GROUP
    [prd.gcp] delivery_pipeline          -> DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE
    [dev.timeouts] deploy_minutes        -> DOJANGKOK_DEV_TIMEOUTS_DEPLOY_MINUTES

A ``DOJANGKOK_DEV_*`` / ``DOJANGKOK_PRD_*`` name that names no setting is refused, so a typo cannot quietly deploy
with the file's value. ``setting_variables(env)`` lists every valid name.

Plain Python (tomllib + dataclasses), importable without a Dagger engine.
"""

from __future__ import annotations

import difflib
import enum
import math
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace

from .catalogue import SERVICES, Cloud, RegistryKind, Service, Strategy

SETTINGS_FILE = "deploy/environments.toml"  # relative to the repository root
VARIABLE_PREFIX = "DOJANGKOK_"
QUERY_PLACEHOLDERS = frozenset({"service", "window"})  # what the analysis gate fills into its PromQL templates
IMAGE_NAMESPACE = "dojangkok"  # the path under a registry override: {override}/dojangkok/{service}


class Environment(enum.StrEnum):
    """A deploy environment."""

    # Lower-case member names: they are what users type (`--env dev`) once Dagger exposes this enum.
    dev = "dev"
    """Development: every push to main is published and deployed here."""

    prd = "prd"
    """Production: release tags v* are published and deployed here."""


class SettingsError(ValueError):
    """The environment settings are missing, malformed or overridden with a name that means nothing."""


class UnknownEnvironmentError(SettingsError):
    """An environment name other than dev or prd."""


_HINTS = {"prod": "prd", "production": "prd", "development": "dev", "develop": "dev"}


def environment(name: str | Environment) -> Environment:
    """``name`` as an Environment, or an error listing the valid names."""
    if isinstance(name, Environment):
        return name
    if isinstance(name, str) and name in Environment.__members__:
        return Environment(name)
    valid = ", ".join(e.value for e in Environment)
    hint = f" (did you mean {_HINTS[name.lower()]!r}?)" if isinstance(name, str) and name.lower() in _HINTS else ""
    shown = "an empty name" if name == "" else repr(name)
    raise UnknownEnvironmentError(f"unknown environment {shown}{hint}: valid environments are {valid} (--env dev)")


# ---------------------------------------------------------------------------------------------- settings types


@dataclass(frozen=True)
class BlueGreenGroup:
    """Where one AWS service is rolled out: a CodeDeploy Blue/Green deployment group in front of an ASG + ALB."""

    deployment_group: str
    auto_scaling_group: str
    target_group: str


@dataclass(frozen=True)
class InstanceGroup:
    """Where one GCP service is rolled out: a zonal managed instance group."""

    instance_group: str


@dataclass(frozen=True)
class AwsSettings:
    account_id: str
    region: str
    ecr_prefix: str
    codedeploy_application: str
    bundle_bucket: str
    groups: Mapping[str, BlueGreenGroup]  # by service name

    @property
    def registry(self) -> str:
        return f"{self.account_id}.dkr.ecr.{self.region}.amazonaws.com"


@dataclass(frozen=True)
class GcpSettings:
    project: str
    region: str
    zone: str
    repository: str
    delivery_pipeline: str  # "" = not configured: roll the instance groups directly
    groups: Mapping[str, InstanceGroup]  # by service name

    @property
    def registry(self) -> str:
        return f"{self.region}-docker.pkg.dev"


@dataclass(frozen=True)
class Timeouts:
    deploy_minutes: int
    health_check_seconds: int
    poll_seconds: float  # first wait between deploy status polls; doubles up to six times this


@dataclass(frozen=True)
class Queries:
    """A service's own PromQL, for metrics named otherwise than the defaults (Micrometer's, say); "" = the default."""

    latency_query: str
    error_query: str


@dataclass(frozen=True)
class Analysis:
    """The analysis gate: after a new release takes all traffic, Prometheus judges it over a window."""

    prometheus_url: str  # the environment's Prometheus HTTP API; empty: no gate (with-prometheus can give one)
    services: str  # comma-separated services the gate judges (those exporting the metrics the queries read)
    window_seconds: int
    p95_ms: int  # seed §9.2: API p95 above 500 ms is a suspected bottleneck
    error_percent: int  # seed §9.2: an error rate above 10 % is a confirmed one
    latency_query: str  # PromQL, seconds; $service and $window are filled in
    error_query: str  # PromQL, a ratio of requests (0..1)
    queries: Mapping[str, Queries] = field(default_factory=dict)  # [env.analysis.SERVICE]: by service name

    @property
    def gated(self) -> tuple[str, ...]:
        return tuple(name.strip() for name in self.services.split(",") if name.strip())

    def queries_of(self, service: str) -> Queries:
        """The latency and error queries that judge `service`: its own where its table sets one, else the default."""
        own = self.queries.get(service, Queries("", ""))
        return Queries(own.latency_query or self.latency_query, own.error_query or self.error_query)


@dataclass(frozen=True)
class Settings:
    """Everything non-secret the pipeline needs to publish to and deploy in one environment."""

    environment: Environment
    aws: AwsSettings
    gcp: GcpSettings
    timeouts: Timeouts
    analysis: Analysis

    @property
    def worst_case_minutes(self) -> int:
        """The longest a deploy's rollouts can run, every wait at its bound (deploy_minutes each): a rollout that
        times out, is stopped and rolled back (3 waits), or passes and then fails the gate (2 waits and the window);
        then the put-back after another service missed the release (stop, its rollback, the redeploy: 3 waits).
        CI's role sessions and job timeouts must outlast it (tests/unit/test_workflows.py checks both)."""
        wait, window = self.timeouts.deploy_minutes, math.ceil(self.analysis.window_seconds / 60)
        return max(3 * wait, 2 * wait + window) + 3 * wait

    def registry(self, svc: Service, registry_override: str = "") -> str:
        """The registry host (and path, for an override) that receives ``svc``'s images."""
        if registry_override:
            return check_registry_override(registry_override)
        if svc.registry is RegistryKind.ECR:
            return self.aws.registry
        if svc.registry is RegistryKind.ARTIFACT_REGISTRY:
            return self.gcp.registry
        raise SettingsError(f"service {svc.name!r} is not built by the pipeline, so it has no registry")

    def image_repository(self, svc: Service, registry_override: str = "") -> str:
        """The repository ``svc`` is pushed to, without a tag.

        ECR ``{account}.dkr.ecr.{region}.amazonaws.com/{prefix}/{service}``, Artifact Registry
        ``{region}-docker.pkg.dev/{project}/{repository}/{service}``; with ``registry_override`` (e.g. the local
        ``127.0.0.1:5000``) every image goes to ``{override}/dojangkok/{service}``.
        """
        host = self.registry(svc, registry_override)
        if registry_override:
            return f"{host}/{IMAGE_NAMESPACE}/{svc.name}"
        if svc.registry is RegistryKind.ECR:
            return f"{host}/{self.aws.ecr_prefix}/{svc.name}"
        return f"{host}/{self.gcp.project}/{self.gcp.repository}/{svc.name}"


_REGISTRY_OVERRIDE = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?(/[a-z0-9]+([._-][a-z0-9]+)*)*")


def check_registry_override(value: str) -> str:
    """``value`` without a trailing '/', if it is a registry ``host[:port][/path]`` (no scheme)."""
    cleaned = value.rstrip("/")
    if not _REGISTRY_OVERRIDE.fullmatch(cleaned):
        raise SettingsError(
            f"registry override {value!r} is not a registry address: expected host[:port][/path] without a scheme, "
            "e.g. 127.0.0.1:5000"
        )
    return cleaned


# ---------------------------------------------------------------------------------------------- loading


def _deployed(cloud: Cloud, strategy: Strategy) -> tuple[str, ...]:
    return tuple(s.name for s in SERVICES if s.cloud is cloud and s.strategy is strategy)


AWS_SERVICES = _deployed(Cloud.AWS, Strategy.BLUE_GREEN)
GCP_SERVICES = _deployed(Cloud.GCP, Strategy.ROLLING)
_SERVICE_QUERIES = {("analysis", svc.name, key) for svc in SERVICES for key in ("latency_query", "error_query")}
_OPTIONAL = {("gcp", "delivery_pipeline"), ("analysis", "prometheus_url"), ("analysis", "services"), *_SERVICE_QUERIES}
_WHOLE_NUMBERS = {"window_seconds", "p95_ms", "error_percent"}


def _keys(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in ("groups", "queries"))


def _schema() -> dict[tuple[str, ...], type]:
    """Every setting path below an environment table, with its type, in file order."""
    schema: dict[tuple[str, ...], type] = {}
    for key in _keys(AwsSettings):
        schema["aws", key] = str
    for name in AWS_SERVICES:
        for key in _keys(BlueGreenGroup):
            schema["aws", name, key] = str
    for key in _keys(GcpSettings):
        schema["gcp", key] = str
    for name in GCP_SERVICES:
        for key in _keys(InstanceGroup):
            schema["gcp", name, key] = str
    for key in _keys(Timeouts):
        schema["timeouts", key] = float if key == "poll_seconds" else int  # emulators answer in fractions of one
    for key in _keys(Analysis):
        schema["analysis", key] = int if key in _WHOLE_NUMBERS else str
    for svc in SERVICES:
        for key in _keys(Queries):
            schema["analysis", svc.name, key] = str
    return schema


SCHEMA = _schema()


def variable_name(env: str | Environment, path: tuple[str, ...]) -> str:
    """The environment variable that overrides the setting at ``path`` of ``env``."""
    return (VARIABLE_PREFIX + "_".join([environment(env).value, *path])).upper().replace("-", "_")


def setting_variables(env: str | Environment) -> dict[str, tuple[str, ...]]:
    """Every override variable of ``env``, mapped to the setting path it replaces."""
    return {variable_name(env, path): path for path in SCHEMA}


def _where(env: Environment, path: tuple[str, ...]) -> str:
    return f"[{'.'.join([env.value, *path[:-1]])}] {path[-1]}"


def _flatten(table: Mapping, prefix: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    flat: dict[tuple[str, ...], object] = {}
    for key, value in table.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, (*prefix, key)))
        else:
            flat[(*prefix, key)] = value
    return flat


def _parse(text: str, origin: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{origin} is not valid TOML: {e}") from e


def _coerce(env: Environment, path: tuple[str, ...], value: object, origin: str) -> str | int | float:
    kind = SCHEMA[path]
    if kind is float:
        try:
            number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or not 0 < number < math.inf:
            raise SettingsError(f"{origin}: {_where(env, path)} must be a positive number of seconds, got {value!r}")
        return number
    if kind is int:
        try:
            number = int(value) if isinstance(value, str | int) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or number <= 0:
            raise SettingsError(f"{origin}: {_where(env, path)} must be a positive whole number, got {value!r}")
        return number
    if not isinstance(value, str):
        raise SettingsError(f"{origin}: {_where(env, path)} must be a string, got {value!r}")
    if not value and path not in _OPTIONAL:
        raise SettingsError(f"{origin}: {_where(env, path)} is empty; set it in {SETTINGS_FILE}")
    return value


def _check_unknown_variables(env: Environment, environ: Mapping[str, str]) -> None:
    known = setting_variables(env)
    prefix = f"{VARIABLE_PREFIX}{env.value.upper()}_"
    for name in sorted(environ):
        if name.startswith(prefix) and name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(
                f"environment variable {name} names no {env.value} setting{hint}; "
                f"valid names follow {prefix}<SECTION>_<KEY>, e.g. {prefix}AWS_REGION"
            )


# What every text setting must look like (AWS's and Google's documented formats): region, project and account name
# the registry hosts tokens are sent to, so a value outside its kind is refused before anything uses it.
# (what it is, pattern, an example); "*" stands for any service's table.
_RESOURCE = r"[a-z]([-a-z0-9]{0,61}[a-z0-9])?"
KINDS: dict[tuple[str, ...], tuple[str, str, str]] = {
    ("aws", "account_id"): ("12 digits", r"[0-9]{12}", "123456789012"),
    ("aws", "region"): ("an AWS region", r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}", "ap-northeast-2"),
    ("aws", "ecr_prefix"): ("an ECR repository path", r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*",
                            "dojangkok"),
    ("aws", "codedeploy_application"): ("a CodeDeploy name", r"[A-Za-z0-9._+-]{1,100}", "dojangkok-dev"),
    ("aws", "bundle_bucket"): ("an S3 bucket name", r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]", "dojangkok-dev-bundles"),
    ("aws", "*", "deployment_group"): ("a CodeDeploy name", r"[A-Za-z0-9._+-]{1,100}", "dojangkok-dev-frontend-bg"),
    ("aws", "*", "auto_scaling_group"): ("an Auto Scaling group name", r"[A-Za-z0-9._-]{1,255}", "dojangkok-asg"),
    ("aws", "*", "target_group"): ("a target group name", r"[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?",
                                   "dojangkok-dev-frontend-tg"),
    ("gcp", "project"): ("a Google Cloud project id", r"[a-z][a-z0-9-]{4,28}[a-z0-9]", "dojangkok-dev"),
    ("gcp", "region"): ("a Google Cloud region", r"[a-z]+-[a-z]+[0-9]{1,2}", "asia-northeast3"),
    ("gcp", "zone"): ("a Google Cloud zone", r"[a-z]+-[a-z]+[0-9]{1,2}-[a-z]", "asia-northeast3-b"),
    ("gcp", "repository"): ("an Artifact Registry repository id", _RESOURCE, "dojangkok"),
    ("gcp", "delivery_pipeline"): ("empty or a Cloud Deploy pipeline id", f"({_RESOURCE})?", "dojangkok"),
    ("gcp", "*", "instance_group"): ("an instance group name", _RESOURCE, "dojangkok-dev-ai-server-mig"),
    ("analysis", "prometheus_url"): ("empty or an http(s) URL", r"(https?://[^\s/?#]+(/[^\s]*)?)?",
                                     "https://prometheus.example:9090"),
}


def _kind(path: tuple[str, ...]) -> tuple[str, str, str] | None:
    if len(path) == 3:  # a service's table
        return KINDS.get((path[0], "*", path[2]))
    return KINDS.get(path)


def _check_values(env: Environment, values: Mapping[tuple[str, ...], str | int], origin: str) -> None:
    for path, value in values.items():
        if (kind := _kind(path)) and not re.fullmatch(kind[1], str(value)):
            what, _, example = kind
            raise SettingsError(
                f"{origin}: {_where(env, path)} {value!r} is not {what} (e.g. {example}); fix it there or in "
                f"{variable_name(env, path)}"
            )
    gated = {name.strip() for name in str(values["analysis", "services"]).split(",") if name.strip()}
    if unknown := sorted(gated - {s.name for s in SERVICES}):
        raise SettingsError(f"{origin}: {_where(env, ('analysis', 'services'))} names {', '.join(unknown)}, not a "
                            f"service: choose from {', '.join(s.name for s in SERVICES)}")
    for path in [("analysis", "latency_query"), ("analysis", "error_query"), *sorted(_SERVICE_QUERIES)]:
        query = string.Template(str(values[path]))
        unknown = sorted(set(query.get_identifiers()) - QUERY_PLACEHOLDERS)
        if not query.is_valid() or unknown:
            found = f" (${', $'.join(unknown)})" if unknown else ""
            raise SettingsError(
                f"{origin}: {_where(env, path)} {query.template!r} has a $ that is not $service or "
                f"$window{found}: write $$ for a literal dollar sign"
            )
    region, zone = values["gcp", "region"], values["gcp", "zone"]
    if not str(zone).startswith(f"{region}-"):
        raise SettingsError(
            f"{origin}: {_where(env, ('gcp', 'zone'))} {zone!r} is not in {_where(env, ('gcp', 'region'))} "
            f"{region!r}: expected e.g. {region}-b"
        )


def load(
    env: str | Environment,
    *,
    text: str,
    environ: Mapping[str, str] | None = None,
    origin: str = SETTINGS_FILE,
) -> Settings:
    """The settings of ``env`` from ``text`` (the TOML of ``deploy/environments.toml``), with the overrides in
    ``environ`` (names as ``setting_variables`` lists them; other ``DOJANGKOK_{ENV}_*`` names are refused)."""
    which = environment(env)
    environ = environ or {}
    document = _parse(text, origin)

    others = sorted(set(document) - {e.value for e in Environment})
    if others:
        raise SettingsError(
            f"{origin} defines {', '.join(others)}; only the environments "
            f"{', '.join(e.value for e in Environment)} exist"
        )
    table = document.get(which.value)
    if not isinstance(table, Mapping):
        raise SettingsError(f"{origin} has no [{which.value}.*] tables: add the {which.value} settings")
    given = _flatten(table)
    unknown = sorted(set(given) - set(SCHEMA))
    if unknown:
        first = unknown[0]
        siblings = [p[-1] for p in SCHEMA if p[:-1] == first[:-1]]
        expected = f"known keys there are {', '.join(siblings)}" if siblings else "no such table is read"
        raise SettingsError(f"{origin}: unknown setting {_where(which, first)}; {expected}")
    _check_unknown_variables(which, environ)

    values: dict[tuple[str, ...], str | int] = {}
    for setting in SCHEMA:
        variable = variable_name(which, setting)
        if variable in environ:
            values[setting] = _coerce(which, setting, environ[variable], f"environment variable {variable}")
        elif setting in given:
            values[setting] = _coerce(which, setting, given[setting], origin)
        elif setting in _OPTIONAL:
            values[setting] = ""
        else:
            raise SettingsError(f"{origin} has no {_where(which, setting)}: add it there, or set {variable}")
    _check_values(which, values, origin)

    def section(cls: type, *path: str):
        return cls(**{key: values[(*path, key)] for key in _keys(cls)})

    aws_groups = {name: section(BlueGreenGroup, "aws", name) for name in AWS_SERVICES}
    gcp_groups = {name: section(InstanceGroup, "gcp", name) for name in GCP_SERVICES}
    return Settings(
        environment=which,
        aws=AwsSettings(**{k: values["aws", k] for k in _keys(AwsSettings)}, groups=aws_groups),
        gcp=GcpSettings(**{k: values["gcp", k] for k in _keys(GcpSettings)}, groups=gcp_groups),
        timeouts=section(Timeouts, "timeouts"),
        analysis=replace(section(Analysis, "analysis"), queries={
            svc.name: section(Queries, "analysis", svc.name) for svc in SERVICES
            if any(values["analysis", svc.name, key] for key in _keys(Queries))}),
    )


def parse_overrides(env: str | Environment, pairs: Sequence[str], also: Sequence[Environment] = ()) -> dict[str, str]:
    """``NAME=VALUE`` pairs, named like the override variables of ``env``, as a mapping to pass as ``environ``;
    names of the environments in `also` (read by the same run) are accepted and left out.

    For callers that cannot set variables, such as a function running inside the Dagger engine (which does not see
    the caller's shell).
    """
    known = setting_variables(env)
    others = {name for other in also for name in setting_variables(other)} - set(known)
    parsed: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise SettingsError(f"override {pair!r} is not NAME=VALUE: expected e.g. {next(iter(known))}=...")
        if name in others:
            continue  # a setting of another environment the same run reads (promote: dev and prd)
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise SettingsError(
                f"override {name} names no {environment(env).value} setting{hint}; "
                f"valid names are listed in {SETTINGS_FILE}"
            )
        parsed[name] = value
    return parsed
