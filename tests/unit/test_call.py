"""The local `dagger call` stand-in spells arguments the way the CLI does (no engine needed for that)."""

import pytest
from dojangkok.environments import Environment
from dojangkok.main import Dojangkok
from dojangkok.plan import OutputFormat
from dojangkok_local.call import UsageError, bind, function_help, functions_of

pytestmark = pytest.mark.unit


def test_lists_the_modules_functions_in_cli_spelling():
    assert set(functions_of(Dojangkok)) == {"build", "test", "publish", "deploy", "rollback", "plan"}


def test_binds_flags_lists_and_enums_and_leaves_the_chain():
    fn = functions_of(Dojangkok)["plan"]
    kwargs, rest = bind(
        fn, ["--env", "prd", "--version=v1.0.2", "--commit", "a1b2c3d", "--service", "vllm", "--service",
             "ai-server", "--format", "json", "next-function"]
    )
    assert kwargs == {
        "env": Environment.prd,
        "version": "v1.0.2",
        "commit": "a1b2c3d",
        "service": ["vllm", "ai-server"],
        "format": OutputFormat.json,
    }
    assert rest == ["next-function"]


@pytest.mark.parametrize(
    ("tokens", "words"),
    [
        (["--env", "prod"], "choose one of dev, prd"),
        (["--env", "dev", "--brunch", "main"], "unknown flag --brunch"),
        ([], "missing --env"),
    ],
)
def test_refuses_what_the_cli_would_refuse(tokens, words):
    with pytest.raises(UsageError, match=words):
        bind(functions_of(Dojangkok)["plan"], list(tokens))


def test_help_documents_every_argument():
    text = function_help("deploy")
    for flag in ("--env", "--aws-access-key-id", "--gcp-endpoint", "--registry", "--format"):
        line = next(line for line in text.splitlines() if line.strip().startswith(flag + " "))
        assert len(line.split()) > 2, line  # a type and a description follow every flag
