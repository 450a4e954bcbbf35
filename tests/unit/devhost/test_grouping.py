"""Which background process runs which queue and timer functions (devhost.grouping)."""

from __future__ import annotations

from devhost.catalog import discover
from devhost.grouping import OWN_PROCESS, PAGING_PATH, YIELDING, Group, groups, parse_names, unknown


def test_the_paging_path_gets_one_process_of_its_own_by_default():
    assert {"notifications", "escalations", "contacts", "sweeper"} == PAGING_PATH
    assert groups(OWN_PROCESS, 1) == [
        Group("background-1", besides=PAGING_PATH),
        Group("paging-1", only=PAGING_PATH),
    ]


def test_each_instance_has_a_process_for_each_own_function_and_one_for_the_rest():
    assert groups(["notifications"], 2) == [
        Group("background-1", besides=frozenset({"notifications"})),
        Group("notifications-1", only=frozenset({"notifications"})),
        Group("background-2", besides=frozenset({"notifications"})),
        Group("notifications-2", only=frozenset({"notifications"})),
    ]
    assert groups([], 1) == [Group("background-1")]


def test_a_group_runs_only_its_functions_or_all_but_the_others():
    rest, own = groups(["notifications", "escalations"], 1)[:2]
    assert [rest.runs(name) for name in ("notifications", "escalations", "statuspage")] == [False, False, True]
    assert [own.runs(name) for name in ("notifications", "escalations", "statuspage")] == [True, False, False]
    assert Group("background-1").runs("statuspage")


def test_the_rest_yields_the_cpu_to_the_processes_set_apart_and_alone_it_does_not():
    rest, paging = groups(OWN_PROCESS, 1)
    assert (rest.niceness, paging.niceness) == (YIELDING, 0)
    assert YIELDING > 0
    assert [group.niceness for group in groups([], 1)] == [0]  # --one-background: nothing to yield to


def test_a_group_is_told_to_its_process_as_it_reads_it_back():
    rest, own = groups(["statuspage", "notifications"], 1)[:2]
    assert rest.arguments() == ["--except", "notifications,statuspage"]
    assert own.arguments() == ["--functions", "statuspage"]
    assert Group("background-1").arguments() == []
    assert parse_names("notifications, statuspage,") == frozenset({"notifications", "statuspage"})


def test_only_queue_and_timer_functions_can_have_a_process_of_their_own():
    from function_app import app

    specs = discover(app)
    assert unknown(["notifications", "sweeper", "alerts", "nonesuch"], specs) == ["alerts", "nonesuch"]
