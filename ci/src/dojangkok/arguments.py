"""The arguments several functions share, with the help `dagger call FUNCTION --help` shows for them."""

from typing import Annotated

from dagger import Doc

from .environments import Environment
from .report import OutputFormat

EnvArg = Annotated[Environment, Doc("dev (tag dev-{branch}-{time}) or prd (tag prod-{version}-{commit})")]
BranchArg = Annotated[str, Doc("Git branch of a dev release, e.g. feat/login (dev only)")]
VersionArg = Annotated[str, Doc("Release version, v + semver, e.g. v1.0.2 (prd only)")]
CommitArg = Annotated[str, Doc("Git commit SHA, at least 7 hex characters: required for prd, labels the images")]
FormatArg = Annotated[OutputFormat, Doc("text (tables), json (the same data) or markdown (for a step summary)")]
