"""Supply-chain benchmark through the released CLI: the time signing adds to a publish. Prints numbers, asserts
nothing.

    python -m dojangkok_local.bench.supply_chain [--platform linux/amd64] [--rounds 2]

Each round publishes the same build (warm: the images are in the engine's cache) twice to the local registry,
once unsigned and once with a local key pair (SBOM scan + provenance + `cosign attest` and `sign` per image), and
then times `cosign verify` / `verify-attestation` of one digest from the host, as deploy's checks do on the engine.
The difference between the two publishes is what signing costs; the module load is in both.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import time

import dagger
from dojangkok.supply_chain import PREDICATE_TYPES

from dojangkok_local import bases, engine, signing
from dojangkok_local.engine.cli import Emulated, call
from dojangkok_local.registry import engine_registry

COMMIT = "be" * 20


def publish(keys: signing.KeyPair | None, platforms: list[str], branch: str) -> tuple[float, list[dict]]:
    args = [a for p in platforms for a in ("--platform", p)]
    start = time.monotonic()
    out = call(*Emulated(engine_registry(), signing=keys).arguments(), "publish", "--env", "dev", "--branch", branch,
               "--commit", COMMIT, *args, "--format", "json")
    return time.monotonic() - start, json.loads(out)


def verify_seconds(keys: signing.KeyPair, reference: str) -> float:
    start = time.monotonic()
    common = ["--key", str(keys.public_key), "--insecure-ignore-tlog", "--allow-http-registry"]
    subprocess.run([signing.cosign(), "verify", *common, reference], check=True, capture_output=True)
    for kind in PREDICATE_TYPES.values():
        subprocess.run([signing.cosign(), "verify-attestation", "--type", kind, *common, reference], check=True,
                       capture_output=True)
    return time.monotonic() - start


async def stand_ins(platforms: list[str]) -> None:
    async with dagger.connection(dagger.Config(log_output=sys.stderr)):
        await bases.publish(bases.wanted(ci=False, platforms=platforms))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--platform", action="append", help="default: linux/amd64")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)
    platforms = args.platform or [bases.HOST]
    engine.attach()
    asyncio.run(stand_ins(platforms))
    keys = signing.key_pair()
    publish(None, platforms, "bench-warm-up")  # builds once: every timed publish below is warm
    unsigned, signed, checks, attestations = [], [], [], 0
    for round_ in range(args.rounds):
        unsigned.append(publish(None, platforms, f"bench-unsigned-{round_}")[0])
        seconds, rows = publish(keys, platforms, f"bench-signed-{round_}")
        signed.append(seconds)
        attestations = sum(len(r["attestations"]) for r in rows)
        first = rows[0]
        checks.append(verify_seconds(keys, f"{first['reference'].rsplit(':', 1)[0]}@{first['digest']}"))
    print(f"publish of {len(rows)} services ({', '.join(platforms)}), warm, {args.rounds} rounds, median:")
    print(f"  unsigned                  {statistics.median(unsigned):7.1f} s")
    print(f"  signed                    {statistics.median(signed):7.1f} s  ({attestations} referrers attached)")
    print(f"  added by signing          {statistics.median(signed) - statistics.median(unsigned):7.1f} s")
    print(f"  verify one digest (host)  {statistics.median(checks):7.1f} s  (signature, provenance, sbom)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
