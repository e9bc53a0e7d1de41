"""The analysis gate: is the new release healthy under real traffic, not only answering its health check?

After a service's release takes all its traffic (Blue/Green switched, the rolling update stable), the gate waits
``window_seconds`` and asks Prometheus (HTTP API, instant queries) for the p95 latency and the error ratio over
exactly that window; the queries and thresholds come from ``[env.analysis]`` of deploy/environments.toml (seed
§9.2: p95 above 500 ms, more than 10 % errors). A breach, a query without data or a Prometheus that cannot answer
is a failed verdict: no verdict, no release.
"""

from __future__ import annotations

import math
import string
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from dojangkok.environments import Analysis


@dataclass(frozen=True)
class Measurement:
    name: str  # "p95 latency" / "error rate"
    query: str
    value: float | None  # None: no data, or Prometheus did not answer
    limit: float
    unit: str  # "ms" / "%"
    problem: str = ""  # why there is no value

    @property
    def breached(self) -> bool:
        return self.value is None or self.value > self.limit

    def __str__(self) -> str:
        if self.value is None:
            return f"{self.name}: {self.problem} (query {self.query})"
        shown = f"{self.value:.0f}" if self.unit == "ms" else f"{self.value:.1f}"
        if self.breached:
            return f"{self.name} {shown} {self.unit} > {self.limit:g} {self.unit} (query {self.query})"
        return f"{self.name} {shown} {self.unit} <= {self.limit:g} {self.unit}"


@dataclass(frozen=True)
class Verdict:
    service: str
    window_seconds: int
    measurements: tuple[Measurement, ...]

    @property
    def passed(self) -> bool:
        return not any(m.breached for m in self.measurements)

    def __str__(self) -> str:
        shown = [m for m in self.measurements if m.breached] or list(self.measurements)
        word = "passed" if self.passed else "breached"
        return f"analysis {word} over {self.window_seconds} s: " + "; ".join(str(m) for m in shown)


class AnalysisGate:
    def __init__(self, analysis: Analysis, url: str, token: str = "", *,
                 sleep: Callable[[float], None] = time.sleep, progress: Callable[[str], None] = lambda _: None):
        self.analysis, self.url, self.token = analysis, url.rstrip("/"), token
        self.sleep, self.progress = sleep, progress
        self.http = httpx.Client(timeout=30, headers={"Authorization": f"Bearer {token}"} if token else {})

    def applies(self, service: str) -> bool:
        return bool(self.url) and service in self.analysis.gated

    def queries(self, service: str) -> tuple[str, str]:
        """`service`'s latency and error queries ([env.analysis], or its own table), filled in."""
        fill = {"service": service, "window": f"{self.analysis.window_seconds}s"}
        own = self.analysis.queries_of(service)
        return (string.Template(own.latency_query).substitute(fill),
                string.Template(own.error_query).substitute(fill))

    def judge(self, service: str) -> Verdict:
        """Watch `service` for the window, then measure it."""
        self.progress(f"{service}: analysis: watching the new release for {self.analysis.window_seconds} s "
                      f"(p95 <= {self.analysis.p95_ms} ms, errors <= {self.analysis.error_percent} %)")
        self.sleep(self.analysis.window_seconds)
        latency, errors = self.queries(service)
        p95_seconds, why_latency = self.value(latency)
        ratio, why_errors = self.value(errors)
        verdict = Verdict(service, self.analysis.window_seconds, (
            Measurement("p95 latency", latency, None if p95_seconds is None else p95_seconds * 1000,
                        self.analysis.p95_ms, "ms", why_latency),
            Measurement("error rate", errors, None if ratio is None else ratio * 100,
                        self.analysis.error_percent, "%", why_errors),
        ))
        self.progress(f"{service}: {verdict}")
        return verdict

    def value(self, query: str) -> tuple[float | None, str]:
        """The single value of an instant query, or None and why."""
        try:
            response = self.http.get(f"{self.url}/api/v1/query", params={"query": query})
            body = response.json()
        except (httpx.HTTPError, ValueError) as error:
            return None, f"Prometheus at {self.url} did not answer ({error})"
        try:
            if body.get("status") != "success":
                return None, f"Prometheus refused the query ({body.get('errorType')}: {body.get('error')})"
            result = body["data"]["result"]
            if body["data"]["resultType"] == "scalar":
                result = [{"value": result}]
            if not result:
                return None, "no data in the window (no requests, or nothing scrapes the service)"
            if len(result) > 1:
                return None, f"{len(result)} series where one value was expected: aggregate the query"
            value = float(result[0]["value"][1])
        except (AttributeError, KeyError, IndexError, TypeError, ValueError):
            return None, f"Prometheus at {self.url} answered something that is not a query result ({body!r:.80})"
        if math.isnan(value):
            return None, "no requests in the window (the ratio is 0/0)"
        return value, ""
