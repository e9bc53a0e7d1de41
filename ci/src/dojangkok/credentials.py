"""How the pipeline reaches the clouds: credentials (as ``dagger.Secret``) and endpoints (as ``dagger.Service``).

Declared once on the module (`dagger call with-aws … with-gcp … deploy …`) and used by every function that
pushes or deploys. Secrets are read only inside this process, long enough for the cloud SDK call, and leave as
``dagger.Secret`` for ``with_registry_auth``: never printed, never in a layer. An endpoint is an emulator reached
the way Dagger modules reach LocalStack: a service argument (``--endpoint tcp://localhost:4566``), started and
addressed by the engine; production leaves it unset.
"""

import asyncio
import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Annotated

import dagger
from dagger import Doc, dag, field, object_type

from .catalogue import Cloud, RegistryKind, Service

AR_USER = "oauth2accesstoken"  # Artifact Registry's fixed user name for access-token logins
ECR_USER = "AWS"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
AWS_FLAGS = (
    "with-aws --access-key-id env:AWS_ACCESS_KEY_ID --secret-access-key env:AWS_SECRET_ACCESS_KEY "
    "[--session-token env:AWS_SESSION_TOKEN]"
)
GCP_FLAGS = (
    "with-gcp --credentials file:$GOOGLE_APPLICATION_CREDENTIALS or --access-token cmd:'gcloud auth print-access-token'"
)


class CredentialsError(ValueError):
    """Credentials are missing or rejected; the message names the call that provides them."""


async def endpoint_url(service: dagger.Service | None) -> str:
    """The URL function code reaches an emulator service at, or "" for the cloud's own endpoint."""
    if service is None:
        return ""
    return await (await service.start()).endpoint(scheme="http")


@object_type
class AwsAccess:
    """AWS credentials of a role session or an IAM user, and an optional emulator endpoint."""

    access_key_id: Annotated[dagger.Secret, Doc("AWS access key id")] = field()
    secret_access_key: Annotated[dagger.Secret, Doc("AWS secret access key")] = field()
    session_token: Annotated[dagger.Secret | None, Doc("Session token of a role session (OIDC in CI)")] = field(
        default=None
    )
    endpoint: Annotated[dagger.Service | None, Doc("An AWS emulator (moto server); unset in production")] = field(
        default=None
    )

    async def session_kwargs(self, region: str) -> dict:
        kwargs = {
            "region_name": region,
            "aws_access_key_id": await self.access_key_id.plaintext(),
            "aws_secret_access_key": await self.secret_access_key.plaintext(),
        }
        if self.session_token is not None:
            kwargs["aws_session_token"] = await self.session_token.plaintext()
        return kwargs

    async def ecr_password(self, region: str) -> dagger.Secret:
        """The ECR login password from ``ecr.get_authorization_token`` (user ``AWS``)."""
        import boto3

        session = boto3.session.Session(**await self.session_kwargs(region))
        client = session.client("ecr", endpoint_url=await endpoint_url(self.endpoint) or None)
        try:
            data = client.get_authorization_token()["authorizationData"][0]
        except Exception as exc:  # botocore's errors name the cause; we add what to do
            raise CredentialsError(f"ECR refused the credentials ({exc}); check the AWS role or keys") from exc
        _user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
        return secret("ecr", password)


@object_type
class GcpAccess:
    """Google credentials (workload identity or service account JSON, or an access token) and an optional endpoint."""

    credentials: Annotated[dagger.Secret | None, Doc("Credentials JSON: workload identity or service account")] = (
        field(default=None)
    )
    access_token: Annotated[dagger.Secret | None, Doc("An OAuth access token")] = field(default=None)
    endpoint: Annotated[dagger.Service | None, Doc("The Compute / Cloud Deploy fake; unset in production")] = field(
        default=None
    )

    @property
    def given(self) -> bool:
        return self.credentials is not None or self.access_token is not None

    async def google_credentials(self):
        """google-auth credentials, or None where none were given or an endpoint was: the fake takes anonymous calls,
        and credentials given beside it (a workflow's workload identity file) are neither exchanged nor sent there."""
        if self.endpoint is not None:
            return None
        if self.access_token is not None:
            import google.oauth2.credentials

            return google.oauth2.credentials.Credentials(token=await self.access_token.plaintext())
        if self.credentials is not None:
            import google.auth

            info = json.loads(await self.credentials.plaintext())
            creds, _ = google.auth.load_credentials_from_dict(info, scopes=SCOPES)
            return creds
        return None

    async def registry_token(self) -> dagger.Secret:
        """An OAuth access token for Artifact Registry (user ``oauth2accesstoken``)."""
        if self.access_token is not None:
            return self.access_token
        import google.auth.transport.requests

        creds = await self.google_credentials()
        if creds is None:
            raise CredentialsError("the GCP fake (with-gcp --endpoint) serves no Artifact Registry: push to a local "
                                   "registry with with-registry --address")
        try:
            creds.refresh(google.auth.transport.requests.Request())
        except Exception as exc:
            raise CredentialsError(f"Google refused the credentials ({exc}); check the workload identity") from exc
        return secret("gcp", creds.token)


@object_type
class PrometheusAccess:
    """The Prometheus the analysis gate asks, instead of (or where there is no) [env.analysis] prometheus_url."""

    endpoint: Annotated[dagger.Service | None, Doc("Prometheus, e.g. tcp://localhost:9090")] = field(default=None)
    token: Annotated[dagger.Secret | None, Doc("Bearer token, if it asks for one")] = field(default=None)


@object_type
class RegistryLogin:
    """The login of a with-registry target: its own, since cloud tokens go only to their clouds' registries."""

    username: Annotated[str, Doc("User name")] = field()
    password: Annotated[dagger.Secret, Doc("Password or token")] = field()


def secret(kind: str, plaintext: str) -> dagger.Secret:
    # The name must be stable per value (the engine dedupes by name) but must not reveal it.
    digest = hashlib.sha256(plaintext.encode()).hexdigest()[:16]
    return dag.set_secret(f"dojangkok-{kind}-registry-{digest}", plaintext)


@dataclass(frozen=True)
class Access:
    """What one run may use: the module's AWS and GCP access and its registry override."""

    aws: AwsAccess | None
    gcp: GcpAccess | None
    registry: str = ""  # every image to this registry instead (a local or mirror registry)
    prometheus: PrometheusAccess | None = None  # the analysis gate's Prometheus, where with-prometheus gave one
    override_login: RegistryLogin | None = None  # the override's own login (with-registry)
    # (kind, region) -> its login, asked for once per call however many pushes, checks and copies need it
    _logins: dict[tuple[RegistryKind, str], asyncio.Future] = dataclasses.field(
        default_factory=dict, compare=False, repr=False)

    def check_push(self, kinds: set[RegistryKind]) -> None:
        """Refuse, before anything is built, a publish whose registries need credentials nobody gave."""
        if self.registry:
            return  # a registry override may be anonymous
        if RegistryKind.ECR in kinds and self.aws is None:
            raise CredentialsError(f"pushing to ECR needs AWS credentials: call {AWS_FLAGS} before this function")
        if RegistryKind.ARTIFACT_REGISTRY in kinds and (self.gcp is None or not self.gcp.given):
            raise CredentialsError(f"pushing to Artifact Registry needs Google credentials: call {GCP_FLAGS} first")

    def check_deploy(self, services: tuple[Service, ...]) -> None:
        """Refuse, before anything is built or pushed, a deploy to a cloud nobody gave credentials for."""
        if any(s.cloud is Cloud.AWS for s in services) and self.aws is None:
            raise CredentialsError(f"deploying to AWS needs credentials: call {AWS_FLAGS} before this function")
        if self.aws is None:
            raise CredentialsError(f"every deploy takes its environment's lock in the S3 bundle bucket: call "
                                   f"{AWS_FLAGS} before this function")
        if any(s.cloud is Cloud.GCP for s in services) and (
            self.gcp is None or not (self.gcp.given or self.gcp.endpoint is not None)
        ):
            raise CredentialsError(f"deploying to GCP needs credentials: call {GCP_FLAGS} before this function")

    async def registry_login(self, kind: RegistryKind, region: str) -> tuple[str, dagger.Secret] | None:
        """(user, password) for a registry of ``kind``, or None when no credentials were given (anonymous). A
        registry override gets with-registry's login, never an ECR or Google token: those go to their own hosts.
        Asked for once: later calls (concurrent ones too) get the same login."""
        if (kind, region) not in self._logins:
            self._logins[kind, region] = asyncio.ensure_future(self._login(kind, region))
        return await self._logins[kind, region]

    async def _login(self, kind: RegistryKind, region: str) -> tuple[str, dagger.Secret] | None:
        if self.registry:
            login = self.override_login
            return (login.username, login.password) if login else None
        if kind is RegistryKind.ECR and self.aws is not None:
            return ECR_USER, await self.aws.ecr_password(region)
        if kind is RegistryKind.ARTIFACT_REGISTRY and self.gcp is not None and self.gcp.given:
            return AR_USER, await self.gcp.registry_token()
        return None
