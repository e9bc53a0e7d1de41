"""Registry credentials: ECR through boto3, Artifact Registry through google-auth.

Values arrive as ``dagger.Secret`` (``--aws-secret-access-key env:AWS_SECRET_ACCESS_KEY``) and leave as
``dagger.Secret`` for ``with_registry_auth``; their plaintext lives only in this process's memory, long
enough for the cloud SDK call, and is never printed or written to a layer.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

import dagger
from dagger import dag

from .catalogue import RegistryKind

AR_USER = "oauth2accesstoken"  # Artifact Registry's fixed user name for access-token logins


class CredentialsError(ValueError):
    """Credentials are missing or rejected; the message names the flag that provides them."""


@dataclass
class AwsCredentials:
    access_key_id: dagger.Secret | None = None
    secret_access_key: dagger.Secret | None = None
    session_token: dagger.Secret | None = None
    endpoint_url: str = ""  # an emulator (moto server); empty in production

    @property
    def given(self) -> bool:
        return self.access_key_id is not None and self.secret_access_key is not None

    async def session_kwargs(self, region: str) -> dict:
        kwargs = {
            "region_name": region,
            "aws_access_key_id": await self.access_key_id.plaintext(),
            "aws_secret_access_key": await self.secret_access_key.plaintext(),
        }
        if self.session_token is not None:
            kwargs["aws_session_token"] = await self.session_token.plaintext()
        return kwargs


@dataclass
class GcpCredentials:
    access_token: dagger.Secret | None = None  # e.g. `gcloud auth print-access-token`
    credentials_json: dagger.Secret | None = None  # service-account or workload-identity (external_account) JSON

    @property
    def given(self) -> bool:
        return self.access_token is not None or self.credentials_json is not None


@dataclass
class Credentials:
    aws: AwsCredentials
    gcp: GcpCredentials

    def check(self, kinds: set[RegistryKind], anonymous_ok: bool) -> None:
        """Refuse, before anything is built, a publish whose registries need credentials nobody gave."""
        if anonymous_ok:
            return
        if RegistryKind.ECR in kinds and not self.aws.given:
            raise CredentialsError(
                "pushing to ECR needs AWS credentials: pass --aws-access-key-id env:AWS_ACCESS_KEY_ID "
                "--aws-secret-access-key env:AWS_SECRET_ACCESS_KEY (and --aws-session-token env:AWS_SESSION_TOKEN "
                "for a role session; in GitHub Actions, aws-actions/configure-aws-credentials sets them)"
            )
        if RegistryKind.ARTIFACT_REGISTRY in kinds and not self.gcp.given:
            raise CredentialsError(
                "pushing to Artifact Registry needs Google credentials: pass --gcp-access-token "
                "cmd:'gcloud auth print-access-token' or --gcp-credentials file:$GOOGLE_APPLICATION_CREDENTIALS"
            )


async def ecr_password(aws: AwsCredentials, region: str) -> dagger.Secret:
    """The ECR login password from ``ecr.get_authorization_token`` (user ``AWS``)."""
    import boto3  # the module imports cleanly without cloud SDKs loaded until needed

    session = boto3.session.Session(**await aws.session_kwargs(region))
    client = session.client("ecr", endpoint_url=aws.endpoint_url or None)
    try:
        data = client.get_authorization_token()["authorizationData"][0]
    except Exception as exc:  # botocore's errors name the cause; we add what to do
        raise CredentialsError(f"ECR refused the credentials ({exc}); check the AWS role or keys") from exc
    _user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return _secret("ecr", password)


async def artifact_registry_token(gcp: GcpCredentials) -> dagger.Secret:
    """An OAuth access token for Artifact Registry (user ``oauth2accesstoken``)."""
    if gcp.access_token is not None:
        return gcp.access_token
    import json

    import google.auth
    import google.auth.transport.requests

    info = json.loads(await gcp.credentials_json.plaintext())
    creds, _ = google.auth.load_credentials_from_dict(
        info, scopes=["https://www.googleapis.com/auth/cloud-platform"]
    )
    try:
        creds.refresh(google.auth.transport.requests.Request())
    except Exception as exc:
        raise CredentialsError(f"Google refused the credentials ({exc}); check the workload identity setup") from exc
    return _secret("gcp", creds.token)


def _secret(kind: str, plaintext: str) -> dagger.Secret:
    # The name must be stable per value (the engine dedupes by name) but must not reveal it.
    digest = hashlib.sha256(plaintext.encode()).hexdigest()[:16]
    return dag.set_secret(f"dojangkok-{kind}-registry-{digest}", plaintext)


async def registry_login(
    creds: Credentials, kind: RegistryKind, region: str
) -> tuple[str, dagger.Secret] | None:
    """(user, password) for a registry of ``kind``, or None when no credentials were given (anonymous)."""
    if kind is RegistryKind.ECR and creds.aws.given:
        return "AWS", await ecr_password(creds.aws, region)
    if kind is RegistryKind.ARTIFACT_REGISTRY and creds.gcp.given:
        return AR_USER, await artifact_registry_token(creds.gcp)
    return None
