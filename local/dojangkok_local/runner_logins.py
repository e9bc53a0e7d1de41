"""The cloud logins of a deploy job, on this machine: what deploy.yml's credential steps talk to when act runs it.

On GitHub, a job with `id-token: write` gets an OIDC token from GitHub; aws-actions/configure-aws-credentials trades
it with AWS STS (AssumeRoleWithWebIdentity) and google-github-actions/auth with Google STS (workload identity
federation). Here the same, unmodified actions reach
- GitHub's token service: dojangkok_local.oidc, one request token per job, claims as GitHub words them;
- AWS STS: moto, through the AWS emulator (`AWS_ENDPOINT_URL_STS`, which the action honours);
- Google STS: dojangkok_local.gcp.sts, through the intercepting proxy (the action always calls
  sts.googleapis.com), with the workload identity provider docs/cloud-setup.md creates: this repository only.
The repository variables deploy.yml reads are the ones docs/cloud-setup.md lists, plus the emulator endpoints and
the local registry (`EMULATED_*`, `LOCAL_REGISTRY`: unset on GitHub).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from dojangkok_local import oidc, settings, tls_proxy
from dojangkok_local.aws.infra import ACCOUNT
from dojangkok_local.engine.cli import host_service
from dojangkok_local.gcp import sts

REPOSITORY = "dojangkok/dojangkok"  # what the runs say they are: the module's default provenance repository
REPOSITORY_ID = "871623450"  # GitHub's numeric id of it (the provider's condition pins it, docs/cloud-setup.md)
PROJECT_NUMBER = "498302117345"
PROVIDER = f"projects/{PROJECT_NUMBER}/locations/global/workloadIdentityPools/github/providers/dojangkok"


@dataclass(frozen=True)
class RunnerLogins:
    """The stand-ins a job logs in with, running."""

    tokens: oidc.TokenService
    google: sts.SecurityTokenService
    proxy: tls_proxy.InterceptingProxy
    aws_endpoint: str

    def job(self, job: oidc.Job) -> dict[str, str]:
        """The runner environment of one job: who it runs for (as its token says), its token request, AWS STS's
        endpoint, the proxy to Google STS."""
        return {"GITHUB_REPOSITORY": job.repository, "GITHUB_REPOSITORY_OWNER": job.repository.split("/")[0],
                "GITHUB_RUN_ID": job.run_id, **self.tokens.job(job), "AWS_ENDPOINT_URL_STS": self.aws_endpoint,
                **self.proxy.client_env()}


def variables(env: str, *, aws_endpoint: str, gcp_endpoint: str, registry: str) -> dict[str, str]:
    """The repository variables deploy.yml reads, for `env` on the emulators and a local registry."""
    found = settings(env)
    return {
        "AWS_ROLE_ARN": f"arn:aws:iam::{ACCOUNT}:role/dojangkok-deploy-{env}",
        "AWS_REGION": found.aws.region,
        "GCP_WORKLOAD_IDENTITY_PROVIDER": PROVIDER,
        "GCP_SERVICE_ACCOUNT": f"dojangkok-deploy@{found.gcp.project}.iam.gserviceaccount.com",
        "EMULATED_AWS_ENDPOINT": host_service(aws_endpoint),
        "EMULATED_GCP_ENDPOINT": host_service(gcp_endpoint),
        "LOCAL_REGISTRY": registry,
    }


@contextlib.contextmanager
def running(aws_endpoint: str) -> Iterator[RunnerLogins]:
    """The token service, Google STS and the proxy to it; AWS STS is the AWS emulator at `aws_endpoint`."""
    with oidc.TokenService.running() as tokens, sts.SecurityTokenService.running() as google, \
            tls_proxy.running({"sts.googleapis.com": google.endpoint.removeprefix("http://")}) as proxy:
        google.add_provider(sts.Provider(
            PROVIDER, issuer_uri=tokens.issuer,
            attribute_condition=f"assertion.repository == '{REPOSITORY}' && "
                                f"assertion.repository_id == '{REPOSITORY_ID}'"))
        yield RunnerLogins(tokens, google, proxy, aws_endpoint)
