"""Print ours-vs-peer speed ratios from pytest-benchmark results.

Usage:
    pytest benchmarks --benchmark-enable --benchmark-only --benchmark-json=bench.json
    python benchmarks/report.py bench.json

Every benchmark is parametrized by ``impl`` ("mlsci_fast" or a peer) within one ``group`` (one
problem), so the ratio peer_median / ours_median is the speed-up of mlsci_fast on that problem,
measured in the same run on the same data. The conftest prints the same table after a run.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from collections.abc import Iterable

OURS = "mlsci_fast"


def ratio_rows(results: Iterable[tuple[str, str, float]]) -> list[tuple[str, str, float, float, float]]:
    """(group, impl, median seconds) -> (group, peer, ours median, peer median, peer/ours)."""
    by_group: dict[str, dict[str, float]] = defaultdict(dict)
    for group, impl, median in results:
        by_group[group][impl] = median
    rows = []
    for group in sorted(by_group):
        impls = by_group[group]
        if OURS not in impls:
            continue
        for peer, median in sorted(impls.items()):
            if peer != OURS:
                rows.append((group, peer, impls[OURS], median, median / impls[OURS]))
    return rows


def format_table(rows: list[tuple[str, str, float, float, float]]) -> str:
    if not rows:
        return "no ours-vs-peer pairs found"
    head = ("group", "peer", "ours median [ms]", "peer median [ms]", "speed-up (peer/ours)")
    body = [(g, p, f"{o * 1e3:.2f}", f"{m * 1e3:.2f}", f"{r:.2f}x") for g, p, o, m, r in rows]
    widths = [max(len(str(c)) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(line, widths)) for line in (head, *body)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def from_json(path: str) -> list[tuple[str, str, float]]:
    with open(path) as f:
        data = json.load(f)
    return [
        (b["group"], b["extra_info"].get("impl") or b["params"]["impl"], b["stats"]["median"])
        for b in data["benchmarks"]
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    print(format_table(ratio_rows(from_json(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
