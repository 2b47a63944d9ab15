"""Carrier identification speed: identifications per second, as the importer calls it.

Three figures, measured in the same run:
- `hot`: the case table's shipping data over and over, as in production where an account has
  a handful of shipping services and many orders (the name cache answers);
- `cold`: every call with names never seen before (the cache misses, the regex does the work);
- `baseline_naive`: the obvious implementation (every carrier's every name searched in every
  name, per call, no cache), to show what the precompiled index buys.

Run: `python bench/bench_carriers.py [--seconds N]`; writes bench/results/bench_carriers.json
(or $KANGLU_BENCH_RESULTS_DIR/bench_carriers.json).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from results_data import write_results  # noqa: E402

from kanglu.domain.carriers import DEFAULT_REGISTRY, Carrier, CarrierRegistry  # noqa: E402
from kanglu.domain.shipping import ShippingService, normalise_name  # noqa: E402
from kanglu.domain.tracking_codes import TrackingCode  # noqa: E402
from tests.unit.carrier_cases import CASES  # noqa: E402

Call = tuple[ShippingService, TrackingCode | None]


def naive_names(registry: CarrierRegistry) -> list[tuple[str, str]]:
    return [
        (carrier.code, f" {normalise_name(name)} ")
        for carrier in registry
        for name in (*carrier.names, *carrier.services, *carrier.fleet_names)
    ]


def naive_identify(
    registry: CarrierRegistry, names: list[tuple[str, str]], shipping: ShippingService, code: TrackingCode | None
) -> Carrier | None:
    """Every name of every carrier (normalised once, beforehand) searched in every name of the
    order, per call: the foundation's first version, with the same family and code rules."""
    hits: set[str] = set()
    for text in (shipping.carrier_name, shipping.service_name, shipping.freight_name):
        padded = f" {normalise_name(text)} "
        for carrier_code, name in names:
            if name in padded:
                hits.add(carrier_code)
    if len(hits) == 1:
        return registry.get(hits.pop())
    by_family = [c for c in registry if shipping.family in c.families]
    if not hits and len(by_family) == 1:
        return by_family[0]
    if not hits and code is not None:
        by_code = [c for c in registry if c.matches_code(code)]
        return by_code[0] if len(by_code) == 1 else None
    return None


def rate(calls: Sequence[Call], identify: Callable[[ShippingService, TrackingCode | None], object], seconds: float) -> float:
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for shipping, code in calls:
            identify(shipping, code)
        done += len(calls)
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time spent on each figure")
    args = parser.parse_args()

    table: list[Call] = [(case.shipping, case.tracking_code) for case in CASES]
    # Names the cache has never seen: an order number glued to each name defeats it.
    unique = [
        (ShippingService(service_name=f"{s.service_name or 'Envio'} {i}", freight_name=s.freight_name,
                         carrier_name=s.carrier_name, family=s.family, tracking_url=s.tracking_url), c)
        for i, (s, c) in enumerate(table * 200)
    ]
    cold_registry = CarrierRegistry(DEFAULT_REGISTRY.carriers, DEFAULT_REGISTRY.intermediaries)

    hot = rate(table, DEFAULT_REGISTRY.identify, args.seconds)
    cold = rate(unique, cold_registry.identify, args.seconds)
    names = naive_names(DEFAULT_REGISTRY)
    naive = rate(table, lambda s, c: naive_identify(DEFAULT_REGISTRY, names, s, c), args.seconds)

    figures = {
        "hot_identifications_per_second": round(hot),
        "cold_identifications_per_second": round(cold),
        "baseline_naive_identifications_per_second": round(naive),
        "hot_speedup_over_baseline": round(hot / naive, 1),
        "cold_speedup_over_baseline": round(cold / naive, 1),
        "carriers": len(DEFAULT_REGISTRY),
        "cases": len(table),
    }
    result = {
        "benchmark": "bench_carriers",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "seconds_per_figure": args.seconds,
        "figures": figures,
    }
    for name, value in figures.items():
        print(f"{name:45} {value:>12,}")
    write_results("bench_carriers", result)


if __name__ == "__main__":
    main()
