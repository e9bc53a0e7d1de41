"""Environment settings: the file in deploy/, the override variables, registries, and refusals."""

import re
from pathlib import Path

import pytest
from dojangkok import environments
from dojangkok.catalogue import service
from dojangkok.environments import (
    Environment,
    SettingsError,
    UnknownEnvironmentError,
    environment,
    parse_overrides,
    setting_variables,
    variable_name,
)
from dojangkok_local import settings as harness_settings

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
SETTINGS = REPO / "deploy" / "environments.toml"


def load(env, *, text: str | None = None, environ=None):
    """The module's loader over the repository's file (or ``text``), with only the overrides given."""
    return environments.load(env, text=SETTINGS.read_text() if text is None else text, environ=environ)


@pytest.fixture
def clean_environ(monkeypatch):
    """No stray DOJANGKOK_* variables from the caller's shell."""
    import os

    for name in list(os.environ):
        if name.startswith("DOJANGKOK_"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("env", ["dev", "prd", Environment.dev, Environment.prd])
def test_both_environments_load(env, clean_environ):
    settings = load(env)
    assert settings.environment == Environment(env)
    assert re.fullmatch(r"[0-9]{12}", settings.aws.account_id)
    assert settings.aws.region == "ap-northeast-2"
    assert settings.aws.ecr_prefix == "dojangkok"
    assert settings.gcp.region == "asia-northeast3"
    assert settings.gcp.zone.startswith("asia-northeast3-")
    assert settings.gcp.repository == "dojangkok"
    assert settings.gcp.delivery_pipeline == ""  # not configured
    assert set(settings.aws.groups) == {"frontend", "backend"}
    assert set(settings.gcp.groups) == {"ai-server", "vllm"}
    assert settings.timeouts.deploy_minutes > 0 and settings.timeouts.health_check_seconds > 0


def test_dev_and_prd_differ_where_they_must(clean_environ):
    dev, prd = load("dev"), load("prd")
    assert dev.aws.account_id != prd.aws.account_id
    assert dev.gcp.project == "dojangkok-dev" and prd.gcp.project == "dojangkok-prd"
    assert dev.aws.codedeploy_application == "dojangkok-dev"
    assert prd.aws.groups["frontend"].deployment_group == "dojangkok-prd-frontend-bg"
    assert prd.aws.groups["backend"].auto_scaling_group == "dojangkok-prd-backend-asg"
    assert prd.aws.groups["backend"].target_group == "dojangkok-prd-backend-tg"
    assert prd.aws.bundle_bucket == "dojangkok-prd-codedeploy-bundles"
    assert dev.gcp.groups["vllm"].instance_group == "dojangkok-dev-vllm-mig"


@pytest.mark.parametrize("name", ["prod", "staging", "", "DEV", "Prd", "production", " dev", None, 1])
def test_unknown_environment_is_refused_with_the_valid_names(name):
    with pytest.raises(UnknownEnvironmentError, match="valid environments are dev, prd"):
        environment(name)
    with pytest.raises(ValueError, match="valid environments are dev, prd"):
        load(name, environ={})


@pytest.mark.parametrize(("name", "hint"), [("prod", "prd"), ("production", "prd"), ("development", "dev")])
def test_unknown_environment_suggests_the_close_one(name, hint):
    with pytest.raises(UnknownEnvironmentError, match=f"did you mean '{hint}'"):
        environment(name)


def test_empty_environment_is_named_as_such():
    with pytest.raises(UnknownEnvironmentError, match="unknown environment an empty name"):
        environment("")


# ------------------------------------------------------------------------------------------ overrides


@pytest.mark.parametrize(
    ("env", "path", "variable"),
    [
        ("prd", ("aws", "region"), "DOJANGKOK_PRD_AWS_REGION"),
        ("dev", ("aws", "frontend", "deployment_group"), "DOJANGKOK_DEV_AWS_FRONTEND_DEPLOYMENT_GROUP"),
        ("prd", ("gcp", "ai-server", "instance_group"), "DOJANGKOK_PRD_GCP_AI_SERVER_INSTANCE_GROUP"),
        ("prd", ("gcp", "delivery_pipeline"), "DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE"),
        ("dev", ("timeouts", "deploy_minutes"), "DOJANGKOK_DEV_TIMEOUTS_DEPLOY_MINUTES"),
    ],
)
def test_variable_names_follow_the_documented_scheme(env, path, variable):
    assert variable_name(env, path) == variable
    assert setting_variables(env)[variable] == path


def test_every_setting_has_a_variable_and_the_file_documents_the_scheme():
    text = SETTINGS.read_text()
    for env in Environment:
        names = setting_variables(env)
        assert len(names) == len(environments.SCHEMA)
        assert all(re.fullmatch(r"DOJANGKOK_(DEV|PRD)_[A-Z0-9_]+", n) for n in names)
    for documented in re.findall(r"DOJANGKOK_[A-Z0-9_]+", text):
        if documented.startswith(("DOJANGKOK_DEV_", "DOJANGKOK_PRD_")) and not documented.endswith("_"):
            assert documented in setting_variables(documented.split("_")[1].lower()), documented


def test_overrides_from_the_process_environment(clean_environ):
    clean_environ.setenv("DOJANGKOK_PRD_AWS_REGION", "us-east-1")
    clean_environ.setenv("DOJANGKOK_PRD_AWS_ACCOUNT_ID", "999988887777")
    clean_environ.setenv("DOJANGKOK_PRD_AWS_FRONTEND_DEPLOYMENT_GROUP", "fe-bg-2")
    clean_environ.setenv("DOJANGKOK_PRD_GCP_AI_SERVER_INSTANCE_GROUP", "ai-mig-2")
    clean_environ.setenv("DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE", "dojangkok-ai")
    clean_environ.setenv("DOJANGKOK_PRD_TIMEOUTS_DEPLOY_MINUTES", "12")
    clean_environ.setenv("DOJANGKOK_DEV_AWS_REGION", "eu-west-1")  # another environment's: no effect on prd
    prd = harness_settings("prd")
    assert prd.aws.region == "us-east-1"
    assert prd.aws.account_id == "999988887777"
    assert prd.aws.groups["frontend"].deployment_group == "fe-bg-2"
    assert prd.aws.groups["backend"].deployment_group == "dojangkok-prd-backend-bg"  # untouched
    assert prd.gcp.groups["ai-server"].instance_group == "ai-mig-2"
    assert prd.gcp.delivery_pipeline == "dojangkok-ai"
    assert prd.timeouts.deploy_minutes == 12
    assert harness_settings("dev").aws.region == "eu-west-1"


def test_the_module_reads_only_the_overrides_it_is_given(clean_environ):
    clean_environ.setenv("DOJANGKOK_DEV_AWS_REGION", "eu-west-1")  # a function's container never sees this
    assert load("dev").aws.region == "ap-northeast-2"
    assert load("dev", environ={"DOJANGKOK_DEV_GCP_ZONE": "asia-northeast3-c"}).gcp.zone == "asia-northeast3-c"


@pytest.mark.parametrize(
    ("variable", "message"),
    [
        ("DOJANGKOK_PRD_AWS_REGON", "did you mean DOJANGKOK_PRD_AWS_REGION"),
        ("DOJANGKOK_PRD_AWS_CHROMADB_DEPLOYMENT_GROUP", "names no prd setting"),
        ("DOJANGKOK_PRD_NOTHING", "names no prd setting"),
    ],
)
def test_a_variable_that_names_no_setting_is_refused(variable, message):
    with pytest.raises(SettingsError, match=message):
        load("prd", environ={variable: "x"})


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("DOJANGKOK_DEV_TIMEOUTS_DEPLOY_MINUTES", "soon", "positive whole number"),
        ("DOJANGKOK_DEV_TIMEOUTS_DEPLOY_MINUTES", "0", "positive whole number"),
        ("DOJANGKOK_DEV_TIMEOUTS_HEALTH_CHECK_SECONDS", "-5", "positive whole number"),
        ("DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS", "0", "positive number of seconds"),
        ("DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS", "nan", "positive number of seconds"),
        ("DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS", "soon", "positive number of seconds"),
        ("DOJANGKOK_DEV_AWS_ACCOUNT_ID", "12345", "12 digits"),
        ("DOJANGKOK_DEV_GCP_ZONE", "us-central1-a", "not in .*asia-northeast3"),
        ("DOJANGKOK_DEV_AWS_BUNDLE_BUCKET", "", "is empty"),
        # settings that name hosts (registries get tokens): an override cannot point them elsewhere
        ("DOJANGKOK_PRD_GCP_REGION", "attacker.example/x", "not a Google Cloud region"),
        ("DOJANGKOK_DEV_GCP_REGION", "attacker.example/x", "not a Google Cloud region"),
        ("DOJANGKOK_DEV_AWS_REGION", "evil.example#", "not an AWS region"),
        ("DOJANGKOK_DEV_GCP_PROJECT", "x.example/p", "not a Google Cloud project id"),
        ("DOJANGKOK_DEV_AWS_ECR_PREFIX", "../other", "not an ECR repository path"),
        ("DOJANGKOK_DEV_GCP_AI_SERVER_INSTANCE_GROUP", "Mig_1", "not an instance group name"),
        ("DOJANGKOK_DEV_AWS_BUNDLE_BUCKET", "Bucket_With_Caps", "not an S3 bucket name"),
        ("DOJANGKOK_DEV_ANALYSIS_PROMETHEUS_URL", "ftp://prometheus", "not empty or an http"),
        ("DOJANGKOK_DEV_ANALYSIS_SERVICES", "ai-server,ai_server", "names ai_server, not a service"),
        # the gate fills $service and $window in when it judges, after the rollout: any other $ is refused now
        ("DOJANGKOK_DEV_ANALYSIS_ERROR_QUERY", "sum(rate(x{job='$job'}[$window]))",
         r"not \$service or \$window \(\$job\)"),
        ("DOJANGKOK_DEV_ANALYSIS_LATENCY_QUERY", "histogram_quantile(0.95, $ {x})", "write \\$\\$ for a literal"),
        ("DOJANGKOK_DEV_ANALYSIS_BACKEND_ERROR_QUERY", "sum(rate(x{pod='$pod'}[$window]))",
         r"\[dev.analysis.backend\] error_query .+ not \$service or \$window \(\$pod\)"),
    ],
)
def test_a_bad_override_value_is_refused_naming_the_variable(variable, value, message):
    with pytest.raises(SettingsError, match=message) as caught:
        load(variable.split("_")[1].lower(), environ={variable: value})
    assert variable in str(caught.value) or "environments.toml" in str(caught.value)


def test_a_query_template_may_name_its_placeholders_and_a_literal_dollar():
    query = "sum(rate(http_requests_total{job='$service', x='$$'}[$window]))"
    assert load("dev", environ={"DOJANGKOK_DEV_ANALYSIS_ERROR_QUERY": query}).analysis.error_query == query


def test_a_service_table_replaces_only_the_queries_it_sets_for_that_service_only():
    own = "sum(rate(mine_total{service='$service',status=~'5..'}[$window])) / sum(rate(mine_total[$window]))"
    gate = load("dev", environ={"DOJANGKOK_DEV_ANALYSIS_AI_SERVER_ERROR_QUERY": own}).analysis
    assert gate.queries_of("ai-server").error_query == own
    assert gate.queries_of("ai-server").latency_query == gate.latency_query  # not set there: the default
    assert gate.queries_of("frontend").error_query == gate.error_query  # another service: the default


def test_the_worst_case_counts_every_wait_and_a_gate_window_that_outlasts_one():
    def worst(minutes: int, window: int) -> int:
        return load("dev", environ={"DOJANGKOK_DEV_TIMEOUTS_DEPLOY_MINUTES": str(minutes),
                                    "DOJANGKOK_DEV_ANALYSIS_WINDOW_SECONDS": str(window)}).worst_case_minutes

    assert worst(10, 60) == 60  # rollout, its stop, its rollback; then stop, rollback, redeploy of the put-back
    assert worst(20, 60) == 2 * worst(10, 60)
    assert worst(10, 30 * 60) == 80  # a gate watching longer than a wait: rollout, window, restore, put-back


def test_polls_may_come_in_fractions_of_a_second():
    # Emulators answer in milliseconds: a harness polls them as often as that, through the same setting.
    assert load("dev", environ={"DOJANGKOK_DEV_TIMEOUTS_POLL_SECONDS": "0.2"}).timeouts.poll_seconds == 0.2


def test_parse_overrides():
    pairs = ["DOJANGKOK_PRD_AWS_REGION=us-east-1", "DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE="]
    assert parse_overrides("prd", pairs) == {
        "DOJANGKOK_PRD_AWS_REGION": "us-east-1",
        "DOJANGKOK_PRD_GCP_DELIVERY_PIPELINE": "",
    }
    assert load("prd", environ=parse_overrides("prd", pairs)).aws.region == "us-east-1"
    with pytest.raises(SettingsError, match="not NAME=VALUE"):
        parse_overrides("prd", ["DOJANGKOK_PRD_AWS_REGION"])
    with pytest.raises(SettingsError, match="did you mean DOJANGKOK_PRD_AWS_REGION"):
        parse_overrides("prd", ["DOJANGKOK_DEV_AWS_REGION=x"])
    # A run that reads both environments (promote) takes both environments' names, each for its own.
    both = ["DOJANGKOK_DEV_AWS_REGION=x", "DOJANGKOK_PRD_AWS_REGION=y"]
    assert parse_overrides("prd", both, also=[Environment.dev]) == {"DOJANGKOK_PRD_AWS_REGION": "y"}
    with pytest.raises(SettingsError, match="did you mean"):
        parse_overrides("prd", ["DOJANGKOK_DEV_AWS_REGON=x"], also=[Environment.dev])
    with pytest.raises(UnknownEnvironmentError):
        parse_overrides("staging", [])


# ------------------------------------------------------------------------------------------ the file itself

GOOD = SETTINGS.read_text()


def test_settings_text_instead_of_the_file():
    assert load("prd", text=GOOD, environ={}).gcp.project == "dojangkok-prd"


def test_missing_setting_names_the_file_and_the_variable():
    text = GOOD.replace('bundle_bucket = "dojangkok-prd-codedeploy-bundles"', "")
    with pytest.raises(SettingsError, match=r"no \[prd.aws\] bundle_bucket.*DOJANGKOK_PRD_AWS_BUNDLE_BUCKET"):
        load("prd", text=text, environ={})
    # ... and the variable does stand in for it
    assert load("prd", text=text, environ={"DOJANGKOK_PRD_AWS_BUNDLE_BUCKET": "prd-b"}).aws.bundle_bucket == "prd-b"


def test_unknown_key_in_the_file_is_refused():
    text = GOOD.replace("[prd.aws.frontend]\n", '[prd.aws.frontend]\ndeploy_group = "typo"\n')
    with pytest.raises(SettingsError, match=r"unknown setting \[prd.aws.frontend\] deploy_group.*deployment_group"):
        load("prd", text=text, environ={})


def test_other_environments_in_the_file_are_refused():
    with pytest.raises(SettingsError, match="defines staging; only the environments dev, prd exist"):
        load("dev", text=GOOD + '\n[staging.aws]\nregion = "x"\n', environ={})


def test_an_environment_missing_from_the_file_is_refused():
    dev_only = GOOD[: GOOD.index("\n[prd.aws]\n")]
    assert load("dev", text=dev_only, environ={}).environment is Environment.dev
    with pytest.raises(SettingsError, match=r"no \[prd\.\*\] tables"):
        load("prd", text=dev_only, environ={})


def test_wrong_types_and_bad_toml_are_refused():
    with pytest.raises(SettingsError, match="must be a string"):
        load("dev", text=GOOD.replace('account_id = "123456789012"', "account_id = 123456789012"), environ={})
    with pytest.raises(SettingsError, match="positive whole number"):
        load("dev", text=GOOD.replace("deploy_minutes = 30", 'deploy_minutes = "30m"'), environ={})
    with pytest.raises(SettingsError, match="not valid TOML"):
        load("dev", text="[dev.aws\n", environ={})


# ------------------------------------------------------------------------------------------ registries


def test_registry_hosts_and_repositories():
    prd = load("prd", environ={})
    frontend, vllm = service("frontend"), service("vllm")
    assert prd.registry(frontend) == "210987654321.dkr.ecr.ap-northeast-2.amazonaws.com"
    assert prd.image_repository(frontend) == "210987654321.dkr.ecr.ap-northeast-2.amazonaws.com/dojangkok/frontend"
    assert prd.registry(vllm) == "asia-northeast3-docker.pkg.dev"
    assert prd.image_repository(vllm) == "asia-northeast3-docker.pkg.dev/dojangkok-prd/dojangkok/vllm"


def test_registry_hosts_follow_overrides():
    dev = load("dev", environ={"DOJANGKOK_DEV_AWS_ACCOUNT_ID": "000000000000", "DOJANGKOK_DEV_GCP_PROJECT": "dk-other"})
    assert dev.image_repository(service("backend")).startswith("000000000000.dkr.ecr.ap-northeast-2.amazonaws.com/")
    assert dev.image_repository(service("ai-server")) == "asia-northeast3-docker.pkg.dev/dk-other/dojangkok/ai-server"


@pytest.mark.parametrize("override", ["127.0.0.1:5000", "127.0.0.1:5000/", "localhost:5000", "registry.local"])
@pytest.mark.parametrize("name", ["frontend", "backend", "ai-server", "vllm"])
def test_registry_override_sends_every_image_to_one_place(override, name):
    dev = load("dev", environ={})
    host = override.rstrip("/")
    assert dev.registry(service(name), override) == host
    assert dev.image_repository(service(name), override) == f"{host}/dojangkok/{name}"


@pytest.mark.parametrize("override", ["http://127.0.0.1:5000", "127.0.0.1:5000/UPPER", "host:port", " ", "a b"])
def test_bad_registry_override_is_refused(override):
    with pytest.raises(SettingsError, match=r"host\[:port\]\[/path\] without a scheme"):
        load("dev", environ={}).image_repository(service("frontend"), override)


def test_services_that_are_not_built_have_no_registry():
    from dojangkok.catalogue import BY_NAME

    with pytest.raises(SettingsError, match="not built"):
        load("dev", environ={}).registry(BY_NAME["chromadb"])
