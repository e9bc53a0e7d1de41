"""A bounded load generator: requests at a fixed rate to one URL on this machine, until stopped or out of time.

Open loop, as users are: request n leaves at start + n/rate whether or not earlier ones came back (up to
`concurrency` in flight; beyond that a request waits, and its latency includes the wait). Each request records when
it left, how long it took, its status (0 when the connection failed or timed out) and which server answered
(the load balancer's `X-Dojangkok-Server` header). Only loopback URLs are accepted: this never loads anything
outside the machine.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from dojangkok_local.lb import SERVER_HEADER, SERVER_TIMEOUT_SECONDS

# The client waits longer than the load balancer: a request the load balancer gives up on comes back as its 504 and
# counts as failed; one that is only slow (cores busy with other work) counts in the latency percentiles.
CLIENT_TIMEOUT_SECONDS = SERVER_TIMEOUT_SECONDS + 5

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Sample:
    sent: float  # time.monotonic() when the request left
    latency: float  # seconds
    status: int  # HTTP status; 0 for a connection error or timeout
    server: str  # address of the instance that answered, "" when none did
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


class Load:
    """`with Load(url, rate=20) as load: …` then `load.samples`; never runs longer than `max_seconds`."""

    def __init__(self, url: str, *, rate: float = 20, max_seconds: float = 900, timeout: float = CLIENT_TIMEOUT_SECONDS,
                 concurrency: int = 64) -> None:
        host = urlsplit(url).hostname or ""
        if host not in LOOPBACK:
            raise ValueError(f"load goes to this machine only (127.0.0.1), not {host!r}")
        if not 0 < rate <= 500:
            raise ValueError(f"rate must be between 0 and 500 requests per second, got {rate}")
        self.url, self.rate, self.max_seconds, self.timeout = url, rate, max_seconds, timeout
        self.concurrency = concurrency
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True, name="load")

    def __enter__(self) -> Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> list[Sample]:
        self._stop.set()
        self._thread.join()
        return self.samples

    async def _run(self) -> None:
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            start, pending, n = time.monotonic(), set(), 0
            while not self._stop.is_set() and time.monotonic() - start < self.max_seconds:
                delay = start + n / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.create_task(self._one(client, gate))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
            if pending:
                await asyncio.wait(pending)

    async def _one(self, client: httpx.AsyncClient, gate: asyncio.Semaphore) -> None:
        sent = time.monotonic()
        async with gate:
            try:
                response = await client.get(self.url)
                server = response.headers.get(SERVER_HEADER, "").rpartition(" ")[2]
                sample = Sample(sent, time.monotonic() - sent, response.status_code, server)
            except httpx.HTTPError as error:
                sample = Sample(sent, time.monotonic() - sent, 0, "", f"{type(error).__name__}: {error}")
        self.samples.append(sample)


@dataclass(frozen=True)
class Summary:
    requests: int
    failed: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    served_by: dict[str, int]  # release -> requests it answered ("" = no instance answered)
    errors: list[str]  # a few failures, for the reader


def summarize(samples: Iterable[Sample], release_of: Callable[[str], str]) -> Summary:
    """Counts, latency percentiles (of every request, failed ones included) and who served what."""
    samples = list(samples)
    latencies = sorted(s.latency * 1000 for s in samples)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    served: dict[str, int] = {}
    for s in samples:
        release = release_of(s.server) if s.server else ""
        served[release] = served.get(release, 0) + 1
    failures = [s for s in samples if s.failed]
    return Summary(len(samples), len(failures), *(round(cuts[i], 1) if cuts else 0.0 for i in (49, 94, 98)),
                   served, [s.error or f"HTTP {s.status}" for s in failures[:5]])
