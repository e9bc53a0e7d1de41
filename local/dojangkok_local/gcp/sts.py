"""Google's Security Token Service (sts.googleapis.com/v1/token) for workload identity federation, on this machine.

google-github-actions/auth exchanges the job's GitHub OIDC token here for a federated access token, as it does
with Google: the request names the workload identity provider (`audience`), the token is checked as STS checks it
against that provider's configuration (issuer and its published keys, expiry, allowed audiences, the attribute
condition) and refused with STS's `invalid_grant` otherwise. The auth action always posts to the real host name, so
the harness reaches this app through an intercepting proxy (dojangkok_local.tls_proxy).

Attribute conditions: the CEL subset GitHub setups use, `assertion.CLAIM == 'VALUE'` joined by `&&`.
"""

from __future__ import annotations

import re
import secrets
import threading
from dataclasses import dataclass, field

import httpx
import jwt
from flask import Flask, request

from dojangkok_local.emulator_common import CallLog, LocalApp, json_response

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
JWT_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105 (a type name, RFC 8693)
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105 (a type name, RFC 8693)
PROVIDER = re.compile(r"projects/\d+/locations/global/workloadIdentityPools/[a-z0-9-]{4,32}/providers/[a-z0-9-]{4,32}")
CONDITION = re.compile(r"\s*assertion\.(\w+)\s*==\s*'([^']*)'\s*")


@dataclass(frozen=True)
class Provider:
    """A workload identity pool provider of the OIDC kind (IAM's WorkloadIdentityPoolProvider, the fields STS
    reads)."""

    name: str  # projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER
    issuer_uri: str
    attribute_condition: str = ""
    allowed_audiences: tuple[str, ...] = ()  # empty: the provider's own https://iam.googleapis.com/NAME
    _requirements: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not PROVIDER.fullmatch(self.name):
            raise ValueError(f"provider name {self.name!r}: expected projects/NUMBER/locations/global/"
                             "workloadIdentityPools/POOL/providers/PROVIDER")
        for term in filter(None, self.attribute_condition.split("&&")):
            match = CONDITION.fullmatch(term)
            if match is None:
                raise ValueError(f"attribute condition term {term.strip()!r}: this STS understands "
                                 "assertion.CLAIM == 'VALUE' joined by &&")
            self._requirements[match[1]] = match[2]

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.allowed_audiences or (f"https://iam.googleapis.com/{self.name}",)

    def rejects(self, claims: dict) -> str:
        """Why the attribute condition rejects these claims, or ""."""
        for claim, value in self._requirements.items():
            if claims.get(claim) != value:
                return f"assertion.{claim} is {claims.get(claim)!r}, the condition wants {value!r}"
        return ""


class SecurityTokenService(LocalApp):
    """The STS app and its state: providers, the exchanges it answered. `start()` / `stop()` on 127.0.0.1, or
    `with SecurityTokenService.running() as sts`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._providers: dict[str, Provider] = {}
        self._keys: dict[str, jwt.PyJWKClient] = {}
        self.calls = CallLog()  # {"audience", "outcome", "subject"} per exchange asked for
        super().__init__(self._app(), name="google-sts")

    def add_provider(self, provider: Provider) -> None:
        with self._lock:
            self._providers[provider.name] = provider

    def _keys_of(self, issuer: str) -> jwt.PyJWKClient:
        with self._lock:
            if issuer not in self._keys:
                # As STS does: the issuer's discovery document names where its signing keys are published.
                discovery = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=10).json()
                self._keys[issuer] = jwt.PyJWKClient(discovery["jwks_uri"])
            return self._keys[issuer]

    def exchange(self, form: dict[str, str]) -> tuple[int, dict]:
        """(HTTP status, body) for a token exchange request, its fields as STS names them (snake_case)."""
        audience = form.get("audience", "")
        if form.get("grant_type") != GRANT_TYPE:
            return _invalid("invalid_request", f"Invalid value for \"grant_type\": expected {GRANT_TYPE}")
        if form.get("subject_token_type") != JWT_TOKEN_TYPE:
            return _invalid("invalid_request", f"Invalid value for \"subject_token_type\": expected {JWT_TOKEN_TYPE}")
        name = audience.removeprefix("//iam.googleapis.com/")
        with self._lock:
            provider = self._providers.get(name)
        if provider is None:
            return _invalid("invalid_target", f"The target service indicated by the \"audience\" parameters is "
                                              f"invalid: no workload identity provider {name!r}")
        token = form.get("subject_token", "")
        try:
            key = self._keys_of(provider.issuer_uri).get_signing_key_from_jwt(token).key
            claims = jwt.decode(token, key, algorithms=["RS256"], audience=list(provider.audiences),
                                issuer=provider.issuer_uri, options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.PyJWTError as error:
            return self._refused(audience, "", f"The given credential is invalid: {error}")
        if reason := provider.rejects(claims):
            return self._refused(audience, claims["sub"],
                                 f"The given credential is rejected by the attribute condition ({reason}).")
        self.calls.record({"audience": audience, "outcome": "granted", "subject": claims["sub"]})
        return 200, {"access_token": f"ya29.sts-{secrets.token_urlsafe(32)}", "issued_token_type": ACCESS_TOKEN_TYPE,
                     "token_type": "Bearer", "expires_in": 3600}

    def _refused(self, audience: str, subject: str, description: str) -> tuple[int, dict]:
        self.calls.record({"audience": audience, "outcome": "refused", "subject": subject})
        return _invalid("invalid_grant", description)

    def _app(self) -> Flask:
        app = Flask("google-sts")

        @app.post("/v1/token")
        def token():
            # The auth action posts JSON in camelCase, google-auth a form in snake_case: STS takes both.
            body = request.get_json(silent=True) if request.is_json else None
            form = ({_snake(k): str(v) for k, v in body.items()} if isinstance(body, dict)
                    else request.form.to_dict())
            status, payload = self.exchange(form)
            return json_response(payload, status)

        return app


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _invalid(error: str, description: str) -> tuple[int, dict]:
    return 400, {"error": error, "error_description": description}

