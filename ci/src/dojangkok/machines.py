"""What the clouds offer: machine families with their CPU architecture, and GPUs with the machines they run on.

A small table of facts from each cloud's documentation (the `source` of every row), so the catalogue, `plan` and
`deploy` can refuse a service that could not run where it is sent: an image without the machine's architecture,
or an accelerator the machine type cannot carry. Plain Python, importable without a Dagger engine.
"""

from __future__ import annotations

from dataclasses import dataclass

from .catalogue import AMD64, ARM64, Cloud, Service

GCP_MACHINES = "https://cloud.google.com/compute/docs/machine-resource"
GCP_GPUS = "https://cloud.google.com/compute/docs/gpus"
GCP_G2 = "https://cloud.google.com/compute/docs/accelerator-optimized-machines#g2-vms"
AWS_TYPES = "https://aws.amazon.com/ec2/instance-types/"


@dataclass(frozen=True)
class MachineFamily:
    cloud: Cloud
    name: str  # the family prefix of a machine type: n2d (n2d-standard-2), m7g (m7g.medium)
    platform: str  # the OCI platform its CPUs execute
    source: str
    gpu: str = ""  # an accelerator-optimized family's own GPU, attached to every machine type of it


@dataclass(frozen=True)
class Accelerator:
    name: str  # the accelerator type of the cloud's API
    attaches_to: tuple[str, ...]  # families a VM of which can be given it, or that come with it
    source: str


FAMILIES: tuple[MachineFamily, ...] = (
    MachineFamily(Cloud.GCP, "n1", AMD64, GCP_MACHINES),
    MachineFamily(Cloud.GCP, "n2", AMD64, GCP_MACHINES),
    MachineFamily(Cloud.GCP, "n2d", AMD64, GCP_MACHINES),  # AMD EPYC
    MachineFamily(Cloud.GCP, "e2", AMD64, GCP_MACHINES),
    MachineFamily(Cloud.GCP, "c3", AMD64, GCP_MACHINES),
    MachineFamily(Cloud.GCP, "t2d", AMD64, GCP_MACHINES),
    MachineFamily(Cloud.GCP, "t2a", ARM64, GCP_MACHINES),  # Ampere Altra
    MachineFamily(Cloud.GCP, "c4a", ARM64, GCP_MACHINES),  # Google Axion
    MachineFamily(Cloud.GCP, "g2", AMD64, GCP_G2, gpu="nvidia-l4"),  # g2-standard-4: 1 x L4, 4 vCPU, 16 GB
    MachineFamily(Cloud.GCP, "a2", AMD64, GCP_GPUS, gpu="nvidia-tesla-a100"),
    MachineFamily(Cloud.AWS, "m7g", ARM64, AWS_TYPES),  # Graviton3
    MachineFamily(Cloud.AWS, "c7g", ARM64, AWS_TYPES),
    MachineFamily(Cloud.AWS, "t4g", ARM64, AWS_TYPES),  # Graviton2
    MachineFamily(Cloud.AWS, "m6g", ARM64, AWS_TYPES),
    MachineFamily(Cloud.AWS, "m7i", AMD64, AWS_TYPES),
    MachineFamily(Cloud.AWS, "m7a", AMD64, AWS_TYPES),
    MachineFamily(Cloud.AWS, "t3", AMD64, AWS_TYPES),
)

ACCELERATORS: tuple[Accelerator, ...] = (
    Accelerator("nvidia-l4", ("g2",), GCP_G2),  # comes with G2 machine types only
    Accelerator("nvidia-tesla-t4", ("n1",), GCP_GPUS),  # attaches to N1 machine types only
    Accelerator("nvidia-tesla-v100", ("n1",), GCP_GPUS),
    Accelerator("nvidia-tesla-p4", ("n1",), GCP_GPUS),
    Accelerator("nvidia-tesla-a100", ("a2",), GCP_GPUS),
)


class MachineError(ValueError):
    """A service sent to a machine it cannot run on; the message says what to change."""


def family(svc: Service) -> MachineFamily:
    """The machine family of the service's instance type, or an error naming the table to extend."""
    separator = "." if svc.cloud is Cloud.AWS else "-"
    name = svc.instance_type.split(separator, 1)[0]
    for row in FAMILIES:
        if row.cloud is svc.cloud and row.name == name:
            return row
    raise MachineError(
        f"{svc.name}: machine type {svc.instance_type!r} is of a {svc.cloud.value} family the pipeline does not know; "
        "add the family with its CPU architecture and source to dojangkok/machines.py"
    )


def accelerator(name: str) -> Accelerator:
    for row in ACCELERATORS:
        if row.name == name:
            return row
    known = ", ".join(a.name for a in ACCELERATORS)
    raise MachineError(f"unknown accelerator {name!r}: known are {known} (dojangkok/machines.py)")


def problems(svc: Service) -> list[str]:
    """Why ``svc`` could not run on its machine type, as messages that name the fix; empty when it can."""
    if not svc.instance_type:
        return []
    try:
        machine = family(svc)
    except MachineError as error:
        return [str(error)]
    found = []
    if machine.platform not in svc.platforms:
        found.append(
            f"{svc.name}: {svc.instance_type} executes {machine.platform} but the image is built for "
            f"{', '.join(svc.platforms)}; add {machine.platform} to its platforms or pick a machine of those"
        )
    if svc.accelerator:
        try:
            gpu = accelerator(svc.accelerator)
        except MachineError as error:
            return [*found, f"{svc.name}: {error}"]
        if machine.name not in gpu.attaches_to:
            offered = f" ({machine.gpu} comes with it)" if machine.gpu else ""
            found.append(
                f"{svc.name}: {svc.accelerator} does not attach to {svc.instance_type}{offered}; it runs on "
                f"{', '.join(gpu.attaches_to)} machine types ({gpu.source})"
            )
    elif machine.gpu:
        found.append(f"{svc.name}: {svc.instance_type} comes with {machine.gpu}; declare it as the accelerator")
    return found


def check(services) -> None:
    """Refuse, with every reason at once, services that could not run where the catalogue sends them."""
    found = [message for svc in services for message in problems(svc)]
    if found:
        raise MachineError("; ".join(found))


def built_in_gpu(svc: Service) -> bool:
    """Whether the machine type comes with the service's GPU (accelerator-optimized), rather than taking one."""
    return bool(svc.accelerator) and family(svc).gpu == svc.accelerator
