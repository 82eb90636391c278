"""/healthz latency while Chroma, then Redis, is stalled (SIGSTOP) under 20 threads of uploads and
questions, on a real local stack with default settings. Prints p50/p99 per phase, how many /healthz
calls missed the 2 s client timeout, how long /readyz took to report the stall, and what the load got.

    python bench/stall.py [--stall-seconds 20] [--threads 20]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402

from ragline.localstack import LocalStack  # noqa: E402
from tests.conftest import SAMPLES, free_ports, upload, wait_for_job  # noqa: E402
from tests.security.stalls import NO_QUOTA, HealthWatch, Load, percentiles, stalled, wait_for_readiness  # noqa: E402

SMALL = "fbi_nics_checks_2015_11_table.pdf"


def _report(name: str, watch: HealthWatch, start: float, end: float, noticed: float | None = None) -> None:
    probes = watch.between(start, end)
    p50, p99 = percentiles(probes)
    missed = sum(1 for probe in probes if probe.outcome != 200)
    seen = "" if name == "under load" else f", /readyz 503 after {noticed:.1f} s" if noticed is not None else ", no 503 from /readyz"
    print(f"{name:<16} /healthz p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  n={len(probes):4d}  failed/timed out {missed}{seen}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stall-seconds", type=float, default=20.0)
    parser.add_argument("--threads", type=int, default=20)
    args = parser.parse_args()
    pdf = (SAMPLES / SMALL).read_bytes()
    with tempfile.TemporaryDirectory() as folder, (Path(folder) / "stack.log").open("w") as log:
        with LocalStack(Path(folder), ports=free_ports(), with_flower=False, extra_env=NO_QUOTA, log=log) as stack:
            _measure(stack, pdf, args.threads, args.stall_seconds)


def _measure(stack: LocalStack, pdf: bytes, threads: int, stall_seconds: float) -> None:
    with httpx.Client(base_url=stack.api_url, timeout=60) as api:
        assert wait_for_job(api, upload(api, "stall", SMALL, pdf).json()["job_id"])["state"] == "done"
    with HealthWatch(f"{stack.api_url}/healthz") as watch, Load(stack.api_url, pdf, "stall", threads=threads) as load:
        time.sleep(5)
        phases = [("under load", time.monotonic() - 5, time.monotonic(), None)]
        for dependency in ("chroma", "redis"):
            with stalled(stack, dependency):
                start = time.monotonic()
                try:
                    wait_for_readiness(stack.api_url, lambda code, _: code == 503, stall_seconds)
                    noticed: float | None = time.monotonic() - start
                except AssertionError:
                    noticed = None  # /readyz never said so (or never answered) during the stall
                time.sleep(max(stall_seconds - (time.monotonic() - start), 0))
            phases.append((f"{dependency} stalled", start, time.monotonic(), noticed))
            wait_for_readiness(stack.api_url, lambda code, _: code == 200, 120)
            time.sleep(3)
    print(f"{threads} load threads, stalls of {stall_seconds:g} s, /healthz every 0.1 s with a 2 s client timeout")
    for name, start, end, noticed in phases:
        _report(name, watch, start, end, noticed)
    print("load outcomes:", dict(sorted(load.outcomes.items())))


if __name__ == "__main__":
    main()
