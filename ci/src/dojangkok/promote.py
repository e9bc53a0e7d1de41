"""Build once, promote the bytes: what dev runs for a commit goes to prd by digest, never rebuilt.

dev's targets say which image each service runs (CodeDeploy's last successful revision, the MIG's template);
the image's OCI ``revision`` label (written at publish from ``--commit``) says which commit it was built from. A
service whose dev image was built from another commit, or that dev never deployed, is refused before anything is
pushed. The copy is byte for byte (``oci.copy``): prd's unique tag on the digest dev runs; ``latest`` follows once
prd runs it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from . import oci
from .build import Published
from .catalogue import Service
from .deploy import DeployError
from .deploy.common import parse_image
from .release import Drivers
from .report import progress


class PromoteRefused(RuntimeError):
    """dev does not run the images of the commit asked for; the message says what it runs and what to do."""


@dataclass(frozen=True)
class DevImage:
    service: Service
    repository: str  # registry/path
    digest: str  # sha256:… of what dev rolled out
    revision: str  # the commit its label names
    platforms: list[str]

    @property
    def reference(self) -> str:
        return f"{self.repository}@{self.digest}"


def dev_images(dev: Drivers, services: tuple[Service, ...], commit: str, reach: oci.Reach) -> list[DevImage]:
    """What dev runs for every service, each checked to be built from `commit`; PromoteRefused otherwise."""
    problems, found = [], []
    for svc in services:
        reference = dev.rollout(svc).serving()
        if not reference:
            problems.append(f"{svc.name}: dev runs no image this pipeline deployed")
            continue
        try:
            ref = parse_image(reference)
            location = oci.Location.of(ref.repository)
            platforms, labels = oci.describe(oci.reached(reach, location.registry), location.repository, ref.digest)
        except (DeployError, oci.CopyError) as error:
            problems.append(f"{svc.name}: dev runs {reference}, which its registry does not give out ({error})")
            continue
        revision = labels.get(oci.REVISION_LABEL, "")
        if not revision or not revision.lower().startswith(commit.lower()):
            built = f"built from {revision}" if revision else f"without a {oci.REVISION_LABEL} label"
            problems.append(f"{svc.name}: dev runs {reference}, {built}")
            continue
        progress(f"{svc.name}: dev runs {reference} ({', '.join(platforms)}), built from {revision}")
        found.append(DevImage(svc, ref.repository, ref.digest, revision, platforms))
    if problems:
        raise PromoteRefused(
            f"dev does not run commit {commit} everywhere, nothing was pushed to prd: " + "; ".join(problems)
            + f". Deploy that commit to dev first (dagger call deploy --env dev --branch … --commit {commit})"
        )
    return found


async def copy_to(images: list[DevImage], repository_of: Callable[[Service], str], tag: str,
                  reach: oci.Reach) -> list[Published]:
    """Copy every image under `tag` (`latest` moves once prd runs them: release.point_latest)."""

    def one(image: DevImage) -> tuple[oci.Location, oci.Registry]:
        source = oci.Location.of(image.repository)
        target = oci.Location.of(repository_of(image.service))
        target_registry = oci.reached(reach, target.registry)
        progress(f"copying {image.reference} -> {target.registry}/{target.repository}:{tag}")
        source_registry = oci.reached(reach, source.registry)
        oci.copy(source, source_registry, image.digest, target, target_registry, tag)
        oci.copy_referrers(source, source_registry, image.digest, target, target_registry)  # its signatures
        return target, target_registry

    targets = await asyncio.gather(*(asyncio.to_thread(one, image) for image in images))
    return [Published(service=i.service.name, reference=f"{t.registry}/{t.repository}:{tag}", digest=i.digest,
                      platforms=i.platforms) for i, (t, _) in zip(images, targets, strict=True)]
