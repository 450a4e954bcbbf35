"""Small helpers to summarise and print benchmark figures."""

from __future__ import annotations

import statistics


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def report(title: str, rows: list[tuple[str, str]]) -> None:
    print(f"\n## {title}")
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"  {name.ljust(width)}  {value}")


def latency_rows(latencies: list[float], target_p95: float) -> list[tuple[str, str]]:
    """p50, p95 against its target (seconds), and max of latencies in seconds, printed in milliseconds."""
    p95 = percentile(latencies, 0.95)
    return [
        ("latency p50", f"{percentile(latencies, 0.50) * 1000:.0f} ms"),
        (
            f"latency p95 (target < {target_p95:.0f} s)",
            f"{p95 * 1000:.0f} ms — {'met' if p95 < target_p95 else 'NOT MET'}",
        ),
        ("latency max", f"{max(latencies) * 1000:.0f} ms"),
    ]
