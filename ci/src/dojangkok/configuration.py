"""The module's configuration: what the constructor (`--base`, `--override`) and the with-* functions declared.

Dojangkok holds it and hands it whole to the Build it makes, so a chained `build … publish` runs with exactly what
`deploy` runs with. Neither lists it among its functions: it is state, not something to call.
"""

import dataclasses
import functools

import dagger
from dagger import field, object_type

from .credentials import Access, AwsAccess, GcpAccess, PrometheusAccess, RegistryLogin
from .supply_chain import Signing


@object_type
class Configuration:
    base: list[str] = field(default=list)  # ARG=IMAGE: a production base replaced in every build
    override: list[str] = field(default=list)  # NAME=VALUE: a setting of deploy/environments.toml for this run
    registry: str = field(default="")  # with-registry: every image goes there instead
    registry_endpoint: dagger.Service | None = field(default=None)  # how functions reach it
    registry_login: RegistryLogin | None = field(default=None)  # its own login (cloud tokens never go there)
    aws: AwsAccess | None = field(default=None)  # with-aws
    gcp: GcpAccess | None = field(default=None)  # with-gcp
    prometheus: PrometheusAccess | None = field(default=None)  # with-prometheus
    signing: Signing | None = field(default=None)  # with-signing, with-keyless-signing

    def declaring(self, **changes) -> "Configuration":
        """This configuration with what one with-* function declared."""
        return dataclasses.replace(self, **changes)

    @functools.cached_property
    def access(self) -> Access:
        """What a run may use to reach registries and clouds (the deploy drivers take it as it is): one per call,
        so each registry's login is asked for once."""
        return Access(self.aws, self.gcp, self.registry, self.prometheus, self.registry_login)
