"""Parity's reading of the places users copy commands from: which `dagger call` lines it finds, and how it
fills in their shell variables. Checking them against the module through the real CLI is in the engine tier
(tests/engine/test_parity.py)."""

from __future__ import annotations

import textwrap

import pytest
from dojangkok_local import parity

pytestmark = pytest.mark.unit


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


def test_variables_become_samples_and_an_unknown_one_is_named():
    call = parity.Call("w.yml", 3, ("deploy", "--env", "prd", "--version", "$VERSION", "--commit", "${COMMIT}"))
    assert parity.concrete(call)[4] == "v1.0.2"
    assert parity.concrete(call)[6] == parity.SAMPLES["COMMIT"]
    problem = parity.check_call(parity.Call("w.yml", 3, ("plan", "--env", "$STAGE")))
    assert problem is not None and "no sample value for $STAGE" in problem.message


def test_words_for_a_set_variable_only_are_read_as_github_runs_the_line_without_it():
    script = ('dagger call with-aws --session-token env:T ${EMULATED:+--endpoint "$EMULATED"} '
              '${REGISTRY:+with-registry --address "$REGISTRY"} rollback --env "$TARGET_ENV"')
    (call,) = parity.calls_in_shell(script, "w.yml", 1)
    assert call.argv == ("with-aws", "--session-token", "env:T", "rollback", "--env", "$TARGET_ENV")
