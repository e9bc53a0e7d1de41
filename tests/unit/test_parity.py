"""Parity: every `dagger call …` written in the workflows and the README names real functions and flags.

The checker's logic is proven on a small fake module first; then the real workflows and README are checked
against `dojangkok.main.Dojangkok`, and a mutated copy of a workflow shows the check catches a rename.
"""

from __future__ import annotations

import enum
import shutil
import textwrap
from pathlib import Path
from typing import Annotated

import dagger
import pytest
from dagger.mod import DefaultPath, Doc, Module, Name
from dojangkok_local import parity

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# A module of its own, so the fake objects never mix with the real module's registrations.
fake = Module()


class FakeEnv(enum.Enum):
    dev = "dev"
    prd = "prd"


fake.enum_type(FakeEnv)


@fake.object_type
class FakeBuild:
    """What `build` returns: chainable."""

    @fake.function
    def publish(self, tag: str, dry_run: bool = False) -> str:
        return tag

    @fake.function
    def container(self, platform: str = "") -> dagger.Container:
        raise NotImplementedError


@fake.object_type
class FakePipeline:
    source: Annotated[dagger.Directory, DefaultPath(".")] = fake.field()

    @fake.function
    def build(self, service: str = "", platform: str = "") -> FakeBuild:
        raise NotImplementedError

    @fake.function
    def deploy(
        self,
        env: Annotated[str, Doc("dev or prd")],
        branch: str = "",
        dry_run: bool = False,
        aws_region: str | None = None,
        from_: Annotated[str, Name("from")] = "",
    ) -> str:
        return env

    @fake.function
    def rollback_all(self, env: FakeEnv) -> str:
        return env.value


@pytest.fixture(scope="module")
def module() -> parity.ObjectSignature:
    return parity.object_signature(FakePipeline)


def call(text: str) -> parity.Call:
    calls = list(parity.calls_in_shell(text, "test", 1))
    assert len(calls) == 1, calls
    return calls[0]


def messages(text: str, module: parity.ObjectSignature) -> list[str]:
    return [p.message for p in parity.check_call(call(text), module)]


# --------------------------------------------------------------------------- introspection


def test_signature_is_read_from_the_sdk_registry(module):
    assert set(module.functions) == {"build", "deploy", "rollback-all"}
    deploy = module.functions["deploy"].arguments
    assert set(deploy) == {"env", "branch", "dry-run", "aws-region", "from"}
    assert deploy["env"].required and deploy["env"].takes_value
    assert not deploy["branch"].required
    assert not deploy["dry-run"].takes_value  # a bool is a switch
    assert not deploy["aws-region"].required  # nullable
    assert not module.constructor["source"].required  # DefaultPath
    assert module.functions["build"].returns is not None
    assert set(module.functions["build"].returns.functions) == {"publish", "container"}
    assert module.functions["deploy"].returns is None
    assert module.functions["rollback-all"].arguments["env"].choices == ("dev", "prd")


def test_a_class_that_is_not_a_dagger_object_is_refused():
    class Plain:
        pass

    with pytest.raises(TypeError, match=r"not a @dagger\.object_type"):
        parity.object_signature(Plain)


@pytest.mark.parametrize(
    ("name", "cli"),
    [("dry_run", "dry-run"), ("awsRegion", "aws-region"), ("env", "env"), ("rollback_all", "rollback-all")],
)
def test_cli_names_are_kebab_case(name, cli):
    assert parity.cli_name(name) == cli


# --------------------------------------------------------------------------- checking


@pytest.mark.parametrize(
    "text",
    [
        "dagger call deploy --env dev",
        'dagger call deploy --env dev --branch "$BRANCH"',
        "dagger call deploy --env=prd --dry-run --aws-region eu-west-1",
        "dagger call deploy --env dev --dry-run=false --from main",
        "dagger call deploy --awsRegion x --env dev",  # the CLI normalises flag spellings
        "dagger --progress plain -m . call -q deploy --env dev",
        "dagger call --source . rollback-all --env prd",
        "dagger call build --service frontend publish --tag dev-x --dry-run",
        "dagger call build container --platform linux/arm64 with-exec --args ls stdout",  # core API: not ours
        "dagger call deploy --env dev --branch $(git branch --show-current) --dry-run",
        "dagger call deploy --env dev | tee out.json",
        "dagger call deploy --env dev --json -o result.json",
        "dagger call deploy --help",
        "dagger call deploy --env dev [--branch B]",  # usage notation in docs
        "dagger call rollback-all --env prd",
        "dagger call rollback-all --env=dev",
        "dagger call rollback-all --env dev|prd",  # usage notation: either
        'dagger call rollback-all --env "$TARGET_ENV"',  # filled in at run time
    ],
)
def test_calls_that_match_the_module(text, module):
    assert messages(text, module) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("dagger call deploi --env dev", "FakePipeline has no function 'deploi'"),
        ("dagger call deploy --env dev --brunch main", "function 'deploy' has no argument --brunch"),
        ("dagger call deploy --branch main", "function 'deploy' needs --env"),
        ("dagger call rollback_all --env dev", "has no function 'rollback_all'"),
        ("dagger call build --service x publsh --tag t", "FakeBuild has no function 'publsh'"),
        ("dagger call build publish", "function 'publish' needs --tag"),
        ("dagger call build --tag t", "function 'build' has no argument --tag"),
        ("dagger call --sauce . build", "the FakePipeline constructor has no argument --sauce"),
        ("dagger call", "names no function"),
        ("dagger call rollback-all --env prod", "--env has no value 'prod' (it takes: dev, prd)"),
        ("dagger call rollback-all --env=staging", "--env has no value 'staging'"),
    ],
)
def test_calls_that_do_not_match_the_module(text, expected, module):
    found = messages(text, module)
    assert any(expected in m for m in found), found


def test_an_unknown_flag_does_not_swallow_the_next_function(module):
    found = messages("dagger call build --colour publish --tag t", module)
    assert found == ["function 'build' has no argument --colour (it takes: --platform, --service)"]


# --------------------------------------------------------------------------- finding calls


def test_calls_in_shell_join_continuations_and_ignore_other_commands():
    script = textwrap.dedent(
        """\
        echo dagger call not-this
        dagger version
        dagger call deploy \\
          --env dev  # a comment
        dagger functions
        dagger call build && dagger call test
        """
    )
    calls = list(parity.calls_in_shell(script, "s.sh", 10))
    assert [(c.line, c.argv) for c in calls] == [
        (12, ("deploy", "--env", "dev")),
        (15, ("build",)),
        (15, ("test",)),
    ]


def test_calls_in_shell_find_dagger_only_where_a_command_starts():
    script = "\n".join(
        [
            "echo dagger call a",
            "out=$(dagger call b --env dev)",
            "DEBUG=1 dagger call c",
            "cd x; dagger call d",
            "if true; then dagger call e; fi",
        ]
    )
    assert [c.argv[0] for c in parity.calls_in_shell(script, "s.sh", 1)] == ["b", "c", "d", "e"]


def test_calls_in_workflow_read_run_scripts_and_the_dagger_action(tmp_path):
    workflow = tmp_path / "w.yml"
    workflow.write_text(
        textwrap.dedent(
            """\
            on: push
            jobs:
              a:
                runs-on: ubuntu-24.04
                steps:
                  - run: |
                      echo hi
                      dagger call plan --env dev
                  - uses: dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8.4.1
                    with:
                      version: "0.21.8"
                      call: deploy --env dev --branch "${{ github.ref_name }}"
                  - uses: dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8.4.1
                    with:
                      verb: call
                      args: >-
                        rollback --env
                        prd
                  - uses: dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8.4.1
                    with:
                      verb: functions
                      args: --help
                  - uses: dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8.4.1
                    with:
                      module: github.com/someone/else
                      call: whatever --they --like
            """
        )
    )
    calls = parity.calls_in_workflow(workflow, "w.yml")
    assert [(c.line, c.argv) for c in calls] == [
        (8, ("plan", "--env", "dev")),
        (12, ("deploy", "--env", "dev", "--branch", "GITHUB_EXPRESSION")),
        (17, ("rollback", "--env", "prd")),
    ]


def test_calls_in_markdown_read_fenced_blocks_only(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        textwrap.dedent(
            """\
            Run `dagger call inline --ignored` from the root.

            ```bash
            $ dagger call build            # all images
            dagger call plan --env prd \\
              --version v1.0.2 --commit a1b2c3d
            ```

            ~~~
            dagger call test
            ~~~
            """
        )
    )
    calls = parity.calls_in_markdown(readme, "README.md")
    assert [(c.line, c.argv) for c in calls] == [
        (4, ("build",)),
        (5, ("plan", "--env", "prd", "--version", "v1.0.2", "--commit", "a1b2c3d")),
        (10, ("test",)),
    ]


# --------------------------------------------------------------------------- the real module


def real_module() -> parity.ObjectSignature:
    from dojangkok.main import Dojangkok

    return parity.object_signature(Dojangkok)


def test_workflows_and_readme_match_the_module():
    """Fails while a workflow or the README names a function or flag the module does not have."""
    sources = parity.default_sources(ROOT)
    calls = parity.calls_in(sources, ROOT)
    called = {c.argv[0] for c in calls if c.argv and c.path.startswith(".github/")}
    assert {"test", "build", "deploy", "rollback"} <= called, f"the workflows should call these; found {called}"
    problems = parity.check(calls, real_module())
    assert not problems, "dagger call lines that do not match the module:\n" + "\n".join(map(str, problems))


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("call: plan --env dev", "call: plan-it --env dev", "has no function 'plan-it'"),
        ('--env dev --branch "$BRANCH"\n', '--env dev --brunch "$BRANCH"\n', "has no argument --brunch"),
        ("call: plan --env dev", "call: plan --env prod", "--env has no value 'prod'"),
    ],
)
def test_a_renamed_function_or_flag_in_a_workflow_copy_breaks_parity(tmp_path, before, after, expected):
    original = ROOT / ".github" / "workflows" / "deploy.yml"
    copy = tmp_path / "deploy.yml"
    shutil.copy(original, copy)
    text = copy.read_text()
    assert before in text, f"deploy.yml no longer contains {before!r}; update this test's mutation"
    copy.write_text(text.replace(before, after, 1))

    module = real_module()
    baseline = {p.message for p in parity.check(parity.calls_in_workflow(original), module)}
    mutated = {p.message for p in parity.check(parity.calls_in_workflow(copy), module)}
    new = mutated - baseline
    assert any(expected in m for m in new), f"the mutation went unnoticed; new problems: {new}"


def test_the_command_line_entry_point_reports_and_fails(tmp_path, capsys):
    workflow = tmp_path / "w.yml"
    workflow.write_text("jobs:\n  a:\n    steps:\n      - run: dagger call no-such-function\n")
    assert parity.main([str(workflow)]) == 1
    out = capsys.readouterr().out
    assert "has no function 'no-such-function'" in out
    assert "1 problem(s)" in out
