"""GitHub Actions' OIDC token service, for workflow runs on this machine: what `id-token: write` gives a job.

A job asks `GET $ACTIONS_ID_TOKEN_REQUEST_URL&audience=AUD` with `Authorization: Bearer
$ACTIONS_ID_TOKEN_REQUEST_TOKEN` and gets `{"value": JWT}`: an RS256 token whose claims say which repository, ref,
workflow and environment the job runs for (GitHub's documented claims: sub, repository, ref, environment,
job_workflow_ref, …). Verifiers (Google STS, AWS STS, Fulcio) find its keys as they find GitHub's: the issuer's
`/.well-known/openid-configuration` names the JWKS. Each job gets its own request token (`job()`), so the claims a
token carries are the job's, as on GitHub; a request without one is refused (401).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, request

from dojangkok_local.emulator_common import LocalApp, json_response

TOKEN_SECONDS = 300  # GitHub's tokens last five minutes; verifiers check exp


@dataclass(frozen=True)
class Job:
    """What GitHub knows about a running job, and so puts in its tokens."""

    repository: str  # owner/name
    workflow: str  # file name under .github/workflows
    ref: str  # refs/heads/main, refs/tags/v1.2.3, refs/pull/1/merge
    event_name: str
    sha: str
    environment: str = ""  # the job's `environment:` (act does not read it: the harness says it)
    repository_id: str = "1"  # GitHub's numeric id of the repository
    actor: str = "octocat"
    run_id: str = "1"

    def claims(self) -> dict[str, str]:
        owner = self.repository.split("/", 1)[0]
        workflow_ref = f"{self.repository}/.github/workflows/{self.workflow}@{self.ref}"
        # sub: GitHub's default subject; an environment names it before the ref, a pull request has no ref in it.
        if self.environment:
            subject = f"repo:{self.repository}:environment:{self.environment}"
        elif self.event_name == "pull_request":
            subject = f"repo:{self.repository}:pull_request"
        else:
            subject = f"repo:{self.repository}:ref:{self.ref}"
        claims = {
            "sub": subject, "repository": self.repository, "repository_id": self.repository_id,
            "repository_owner": owner, "ref": self.ref,
            "ref_type": "tag" if self.ref.startswith("refs/tags/") else "branch", "sha": self.sha,
            "event_name": self.event_name, "actor": self.actor, "run_id": self.run_id, "run_attempt": "1",
            "workflow_ref": workflow_ref, "job_workflow_ref": workflow_ref, "runner_environment": "self-hosted",
        }
        if self.environment:
            claims["environment"] = self.environment
        return claims


class TokenService(LocalApp):
    """The token service on 127.0.0.1: `start()` / `stop()`, or `with TokenService.running() as service`."""

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self.issued: list[dict] = []  # the claims of every token handed out, in order
        super().__init__(self._app(), name="oidc-token-service")
        self.issuer = self.endpoint

    def job(self, job: Job) -> dict[str, str]:
        """The environment GitHub gives a job with `id-token: write`: its request URL and its own request token."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._jobs[token] = job
        return {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{self.issuer}/token?api-version=2.0",
                "ACTIONS_ID_TOKEN_REQUEST_TOKEN": token}

    def token(self, job: Job, audience: str, *, issued_at: float | None = None) -> str:
        """An ID token for `job` and `audience`, signed with the service's key."""
        now = int(time.time() if issued_at is None else issued_at)
        claims = {**job.claims(), "iss": self.issuer, "aud": audience, "iat": now, "nbf": now,
                  "exp": now + TOKEN_SECONDS, "jti": secrets.token_hex(16)}
        with self._lock:
            self.issued.append(claims)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self._kid})

    def _app(self) -> Flask:
        app = Flask("oidc-token-service")

        @app.get("/.well-known/openid-configuration")
        def configuration():
            return json_response({
                "issuer": self.issuer, "jwks_uri": f"{self.issuer}/.well-known/jwks",
                "subject_types_supported": ["public", "pairwise"], "response_types_supported": ["id_token"],
                "id_token_signing_alg_values_supported": ["RS256"], "scopes_supported": ["openid"],
                "claims_supported": sorted({"sub", "aud", "exp", "iat", "iss", "jti", "nbf",
                                            *Job("o/r", "w", "refs/heads/main", "push", "0", "e").claims()}),
            })

        @app.get("/.well-known/jwks")
        def jwks():
            key = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
            return json_response({"keys": [{**key, "kid": self._kid, "use": "sig", "alg": "RS256"}]})

        @app.get("/token")
        def issue():
            scheme, _, token = request.headers.get("Authorization", "").partition(" ")
            with self._lock:
                job = self._jobs.get(token) if scheme == "Bearer" else None
            if job is None:
                return json_response({"message": "Unable to get ACTIONS_ID_TOKEN_REQUEST_TOKEN env variable or "
                                                 "the token is not valid"}, 401)
            return json_response({"value": self.token(job, request.args.get("audience") or
                                                      f"https://github.com/{job.repository.split('/')[0]}")})

        return app

