"""Print ours-vs-peer speed ratios from pytest-benchmark results.

Usage:
    pytest benchmarks --benchmark-enable --benchmark-only --benchmark-json=bench.json
    python benchmarks/report.py bench.json

Every benchmark is parametrized by ``impl`` ("mlsci_fast" or a peer) within one ``group`` (one
problem), so the ratio peer_median / ours_median is the speed-up of mlsci_fast on that problem,
measured in the same run on the same data. The conftest prints the same table after a run.

A benchmark whose one call does several units of work a peer's call does once (a GA population
of parameter sets) records ``extra_info["units"]``; its median is divided by it.

Samplers record ``extra_info["ess"]``, the effective sample size their run produced; where both
sides of a pair have it, the ratio is of effective samples per second instead (marked "ESS/s"),
since samplers of different efficiency do different amounts of work per effective sample.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable

OURS = "mlsci_fast"


def ratio_rows(results: Iterable[tuple]) -> list[tuple[str, str, float, float, float, str]]:
    """(group, impl, median seconds[, ess[, units]]) -> (group, peer, ours median, peer median, ratio, kind).

    kind is "time" (peer median / ours) or "ESS/s" (ours ESS per second / peer's).
    """
    by_group: dict[str, dict[str, tuple[float, float | None]]] = defaultdict(dict)
    for group, impl, median, *extra in results:
        # extra: ess, then how many units of work one call did (a population of parameter sets
        # against a peer that evaluates one): medians are compared per unit
        ess = extra[0] if extra else None
        units = extra[1] if len(extra) > 1 and extra[1] else 1
        by_group[group][impl] = (median / units, ess)
    rows = []
    for group in sorted(by_group):
        impls = by_group[group]
        # ours may run in variants, "mlsci_fast-hist" etc.: each is compared with every peer
        variants = sorted(k for k in impls if k == OURS or k.startswith(OURS + "-"))
        for variant in variants:
            ours, ours_ess = impls[variant]
            label = group if variant == OURS else f"{group} [{variant[len(OURS) + 1:]}]"
            for peer, (median, ess) in sorted(impls.items()):
                if peer in variants:
                    continue
                if ess and ours_ess:
                    rows.append((label, peer, ours, median, (ours_ess / ours) / (ess / median), "ESS/s"))
                else:
                    rows.append((label, peer, ours, median, median / ours, "time"))
    return rows


def format_rates(rows: list[tuple[str, str, float, float, float]]) -> str:
    """(group, impl, GFLOP/s, fraction of peak, busy cores) as a table."""
    head = ("group", "impl", "GFLOP/s", "of peak", "busy [cores]")
    body = [(g, i, f"{r:.1f}", f"{p:.0%}", f"{b:.2f}") for g, i, r, p, b in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_table(rows: list[tuple[str, str, float, float, float, str]]) -> str:
    if not rows:
        return "no ours-vs-peer pairs found"
    head = ("group", "peer", "ours median [ms]", "peer median [ms]", "speed-up")
    body = [(g, p, f"{o * 1e3:.2f}", f"{m * 1e3:.2f}", f"{r:.2f}x" + (" (ESS/s)" if k == "ESS/s" else ""))
            for g, p, o, m, r, k in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def from_json(path: str) -> list[tuple[str, str, float]]:
    with open(path) as f:
        data = json.load(f)
    return [
        (b["group"], b["extra_info"].get("impl") or b["params"]["impl"], b["stats"]["median"],
         b["extra_info"].get("ess"), b["extra_info"].get("units"))
        for b in data["benchmarks"]
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(format_table(ratio_rows(from_json(argv[1]))))
    with open(argv[1]) as f:
        rates = [(b["group"], b["extra_info"].get("impl"), b["extra_info"]["gflops"], b["extra_info"]["peak_fraction"],
                  b["extra_info"]["busy_cores"]) for b in json.load(f)["benchmarks"] if "gflops" in b["extra_info"]]
    if rates:
        print()
        print(format_rates(rates))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
