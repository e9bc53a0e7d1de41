"""Where services run: each rule of the cloud facts refuses a wrong combination, and the catalogue passes."""

from dataclasses import replace

import pytest
from dojangkok import machines
from dojangkok.catalogue import AMD64, ARM64, BUILT, BY_NAME
from dojangkok.machines import MachineError, problems

pytestmark = pytest.mark.unit


def test_the_catalogue_runs_where_it_is_sent():
    machines.check(BUILT)
    assert all(problems(svc) == [] for svc in BUILT)


def test_an_image_without_the_machines_architecture_is_refused():
    arm_only = replace(BY_NAME["ai-server"], platforms=(ARM64,))  # the brief's §7.1 build on §8.2's x86 n2d
    (message,) = problems(arm_only)
    assert "n2d-standard-2 executes linux/amd64" in message and "add linux/amd64 to its platforms" in message


def test_an_x86_image_on_graviton_is_refused():
    x86_frontend = replace(BY_NAME["frontend"], platforms=(AMD64,))
    assert "m7g.medium executes linux/arm64" in problems(x86_frontend)[0]


def test_an_accelerator_that_does_not_attach_to_the_machine_is_refused():
    t4_on_g2 = replace(BY_NAME["vllm"], accelerator="nvidia-tesla-t4")  # the brief's §8.2 "g2-standard-4 + T4"
    (message,) = problems(t4_on_g2)
    assert "nvidia-tesla-t4 does not attach to g2-standard-4 (nvidia-l4 comes with it)" in message
    assert "runs on n1 machine types" in message


def test_a_gpu_machine_must_declare_its_gpu():
    undeclared = replace(BY_NAME["vllm"], accelerator="")
    assert "g2-standard-4 comes with nvidia-l4; declare it" in problems(undeclared)[0]


def test_unknown_families_and_accelerators_are_refused_with_where_to_add_them():
    assert "add the family" in problems(replace(BY_NAME["ai-server"], instance_type="z9-standard-2"))[0]
    assert "unknown accelerator 'nvidia-h200'" in problems(replace(BY_NAME["vllm"], accelerator="nvidia-h200"))[0]


def test_every_reason_is_given_at_once():
    wrong = [replace(BY_NAME["ai-server"], platforms=(ARM64,)), replace(BY_NAME["vllm"], accelerator="nvidia-tesla-t4")]
    with pytest.raises(MachineError, match=r"ai-server: .*; vllm: "):
        machines.check(wrong)


def test_every_fact_names_its_source():
    assert all(row.source.startswith("https://") for row in (*machines.FAMILIES, *machines.ACCELERATORS))
