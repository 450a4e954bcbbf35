"""Tallies combine exactly: however a set of incidents is split (by month, by filter, at random), combining the
tallies of its parts gives the very figures of aggregating the whole set — medians and p90s of the merged sorted
durations, counts, load, and costs summed in any order to the same float (math.fsum)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shared.readiness.figures import aggregate, combine
from shared.readiness.hours import PERIODS
from shared.readiness.summary import IncidentSummary, PageTally
from shared.readiness.tally import tally

SERVICES = ("checkout", "build-agents", "default")
PEOPLE = ("Tim Jones", "Larry Brown", "Priya Raman", "Grace Okafor")


def generated_summaries(
    rng: random.Random, count: int, first: datetime, last: datetime, *, whole_seconds: bool = False
) -> list[IncidentSummary]:
    """`count` resolved incidents declared in [first, last), with unacknowledged ones, pages by roster and by name,
    and costs per minute whose sums depend on the order they are added in (0.1, 7.3)."""

    def instant(after: datetime, most_minutes: int) -> datetime:
        moment = after + timedelta(seconds=rng.uniform(0, most_minutes * 60))
        return moment.replace(microsecond=0) if whole_seconds else moment

    span = (last - first).total_seconds()
    found = []
    for number in range(1, count + 1):
        declared = first + timedelta(seconds=rng.uniform(0, span))
        declared = min(declared.replace(microsecond=0) if whole_seconds else declared, last - timedelta(seconds=1))
        started = declared - timedelta(minutes=rng.randint(0, 30))
        acknowledged = instant(declared, 40) if rng.random() < 0.8 else None
        mitigated = instant(declared, 240)
        pages = {
            (rng.choice(PEOPLE), rng.choice(("payments", "platform", "")), rng.choice(PERIODS), rng.randrange(24))
            for _ in range(rng.randint(0, 3))
        }
        promised = rng.randint(0, 4)
        found.append(
            IncidentSummary(
                incident_id=f"INC-{number}",
                service=rng.choice(SERVICES),
                severity=rng.randint(1, 4),
                source=rng.choice(("monitoring", "customer", "slo", "person")),
                declared_at=declared,
                detected_at=declared,
                started_at=started,
                acknowledged_at=acknowledged,
                mitigated_at=mitigated,
                resolved_at=instant(mitigated, 120),
                cost_per_minute=rng.choice((0.0, 0.1, 7.3, 250.0)),
                pages=tuple(sorted(PageTally(*page, rng.randint(1, 2)) for page in pages)),
                paged=tuple(sorted((page[0], instant(declared, 30)) for page in pages)),
                follow_ups=(follow_ups := rng.randint(0, 3)),
                follow_ups_done=rng.randint(0, follow_ups),
                updates_promised=promised,
                updates_late=rng.randint(0, promised),
                version=rng.randint(3, 30),
                events=rng.randint(3, 60),
            )
        )
    return found


@settings(max_examples=40, deadline=None)
@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=60), st.integers(min_value=1, max_value=6))
def test_combining_the_tallies_of_any_split_gives_the_figures_of_the_whole(rng, count, parts):
    summaries = generated_summaries(rng, count, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
    split: list[list[IncidentSummary]] = [[] for _ in range(parts)]
    for summary in summaries:
        split[rng.randrange(parts)].append(summary)
    whole = aggregate(summaries)
    assert combine([tally(part) for part in split]) == whole
    assert combine([tally(part) for part in reversed(split)]) == whole
    assert whole.incidents == count and whole.response["resolve"].count == count


def test_a_tally_gives_its_pages_in_a_span_in_time_order():
    summaries = generated_summaries(
        random.Random(5), 40, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 8, tzinfo=UTC)
    )
    start, end = datetime(2026, 3, 3, tzinfo=UTC), datetime(2026, 3, 5, 12, tzinfo=UTC)
    expected = sorted((at, person) for summary in summaries for person, at in summary.paged if start <= at < end)
    assert expected and tally(summaries).paged_between(start, end) == expected
    assert tally(summaries).paged_between(end, end) == [] and tally([]).paged_between(start, end) == []
