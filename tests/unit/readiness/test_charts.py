"""Chart geometry, exactly: the value axis tops out at a nice number in four steps, bars stand on the baseline at
the centre of their slots, and a line breaks where a month has no value instead of dropping to zero. The plot is
560 × 180 units (x 60–620, y 20–200)."""

from __future__ import annotations

import pytest

from shared.readiness.charts import Bar, Category, Point, Tick, bar_chart, line_chart, nice_top, whole_top


@pytest.mark.parametrize(
    ("largest", "top"),
    [(0, 1.0), (-3, 1.0), (1, 1.0), (7, 10.0), (26, 50.0), (40, 50.0), (101, 200.0), (250, 250.0), (0.3, 0.5)],
)
def test_the_axis_tops_out_at_the_next_nice_number(largest, top):
    assert nice_top(largest) == top


@pytest.mark.parametrize(
    ("largest", "top"), [(0, 4.0), (1, 4.0), (4, 4.0), (5, 8.0), (9, 20.0), (26, 40.0), (101, 200.0)]
)
def test_a_count_axis_steps_in_whole_numbers(largest, top):
    assert whole_top(largest) == top
    assert [tick.value for tick in bar_chart([("a", largest)], whole=True).axes.ticks] == [
        top * n / 4 for n in range(5)
    ]


def test_bars_stand_on_the_baseline_at_the_centre_of_their_slots():
    chart = bar_chart([("a", 3), ("b", 7), ("c", 0)], label=lambda value: f"{value:g}")
    assert chart.axes.ticks == (
        Tick(0.0, 200.0, "0"),
        Tick(2.5, 155.0, "2.5"),
        Tick(5.0, 110.0, "5"),
        Tick(7.5, 65.0, "7.5"),
        Tick(10.0, 20.0, "10"),
    )
    assert chart.axes.categories == (Category("a", 153.33), Category("b", 340.0), Category("c", 526.67))
    # Slots of 186.67 units, bars 70 % of that; 18 units per 1 (180 units for 10).
    assert chart.bars == (
        Bar("a", 3, 88.0, 146.0, 130.67, 54.0),
        Bar("b", 7, 274.67, 74.0, 130.67, 126.0),
        Bar("c", 0, 461.33, 200.0, 130.67, 0.0),
    )


def test_an_empty_bar_chart_has_an_axis_and_no_bars():
    chart = bar_chart([])
    assert chart.bars == () and [tick.value for tick in chart.axes.ticks] == [0.0, 0.25, 0.5, 0.75, 1.0]


def test_a_line_breaks_where_a_month_has_no_value():
    chart = line_chart(["Jan", "Feb", "Mar", "Apr"], {"ack": [10, None, 30, 40], "resolve": [None] * 4})
    assert [tick.value for tick in chart.axes.ticks] == [0.0, 12.5, 25.0, 37.5, 50.0]
    ack, resolve = chart.lines
    assert ack.points == (Point("Jan", 10, 130.0, 164.0), Point("Mar", 30, 410.0, 92.0), Point("Apr", 40, 550.0, 56.0))
    assert ack.path == "M 130 164 M 410 92 L 550 56"
    assert (resolve.name, resolve.points, resolve.path) == ("resolve", (), "")
