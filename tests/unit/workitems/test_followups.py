"""Follow-ups' pure parts: `action` with owner and due date, the due date against the clock, the service hook's
credentials and its workitem.updated event, when an owner is reminded, and the task's due date field."""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from shared.chatops.grammar import MAX_DUE_DAYS, NEEDS_DUE, FollowUp, Invalid, parse_command
from shared.chatops.rules import due_date
from shared.core.errors import ConfigurationError, InvalidInput, Unauthorized
from shared.incidents.incident import Incident
from shared.incidents.timeline import FOLLOW_UP_ADDED, TimelineEvent
from shared.notifications.followup_reminders import reminder_key
from shared.workitems import plan
from shared.workitems.config import BoardsConfig, parse_boards_config
from shared.workitems.followup_index import TrackedFollowUp
from shared.workitems.service_hook import Ignored, WorkItemUpdate, parse_event, verify_credentials
from tests.conftest import SAMPLES

SAID = datetime(2026, 12, 6, 22, 30, tzinfo=UTC)


def sample_event() -> dict:
    return json.loads((SAMPLES / "azure-devops" / "workitem_updated.json").read_text())


# --- grammar --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "command"),
    [
        (
            "action INC-7 Add retry budget to checkout owner: Tim Jones due: 2026-12-20",
            FollowUp("INC-7", "Add retry budget to checkout", "Tim Jones", date(2026, 12, 20)),
        ),
        (
            "action INC-7 Add retry budget due: in 3d owner: @Priya Raman",
            FollowUp("INC-7", "Add retry budget", "Priya Raman", 3),
        ),
        ("action INC-7 alert on lag due:in 2w", FollowUp("INC-7", "alert on lag", None, 14)),
        ("action INC-7 alert on lag due: +10d", FollowUp("INC-7", "alert on lag", None, 10)),
        ("action INC-7 alert on lag due: tomorrow.", FollowUp("INC-7", "alert on lag", None, 1)),
        ("action INC-7 alert on lag owner:Larry Brown", FollowUp("INC-7", "alert on lag", "Larry Brown", None)),
        # Words such as "owner" and "due" without a colon are the follow-up's own words.
        (
            "action INC-7 fix the due date of the owner report",
            FollowUp("INC-7", "fix the due date of the owner report"),
        ),
        ("follow-up INC-7 Add a runbook DUE: TODAY", FollowUp("INC-7", "Add a runbook", None, 0)),
    ],
)
def test_action_takes_an_owner_and_a_due_date_after_its_words(text, command):
    assert parse_command(text) == command


ACTION_EXAMPLE = "action INC-7 alert on queue depth owner: Alex Kim"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("action INC-7 x due: soon", NEEDS_DUE),
        ("action INC-7 x due:", NEEDS_DUE),
        ("action INC-7 x due: 2026-02-30", "a date that exists (2026-02-30 does not): due: 2026-12-20, due: in 3d"),
        ("action INC-7 x due: 20261220", NEEDS_DUE),
        ("action INC-7 x due: in 53w", f"a due date within {MAX_DUE_DAYS} days: due: in 3d, due: 2026-12-20"),
        ("action INC-7 x owner:", f"a person after owner: — {ACTION_EXAMPLE}"),
        ("action INC-7 x owner: a due: today owner: b", f"owner: once: {ACTION_EXAMPLE} due: in 3d"),
        ("action INC-7 x owner: " + "n" * 101, "the person's name is 101 characters; the limit is 100"),
    ],
)
def test_a_malformed_owner_or_due_date_is_refused_with_what_to_type(text, problem):
    assert parse_command(text) == Invalid("action", problem, "INC-7")


def test_an_action_of_clauses_alone_has_no_words_and_is_refused():
    invalid = parse_command("action INC-7 owner: Tim due: today")
    assert isinstance(invalid, Invalid) and invalid.problem.startswith("action needs an incident id and the follow-up")


# --- the due date against the clock ---------------------------------------------------------------------------------
def test_a_due_date_counts_days_from_the_utc_day_it_was_said_and_must_be_within_a_year():
    assert due_date(None, SAID) is None
    assert due_date(0, SAID) == date(2026, 12, 6)
    assert due_date(3, SAID) == date(2026, 12, 9)
    assert due_date(date(2026, 12, 6), SAID) == date(2026, 12, 6)
    with pytest.raises(InvalidInput, match=r"^due 2026-12-05 is in the past; give today or a later date$"):
        due_date(date(2026, 12, 5), SAID)
    with pytest.raises(InvalidInput, match=r"^due 2027-12-07 is more than 365 days away$"):
        due_date(date(2027, 12, 7), SAID)


# --- the service hook -----------------------------------------------------------------------------------------------
def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_the_secret_is_accepted_as_the_basic_auth_password_with_any_user_or_as_the_header():
    verify_credentials(basic("azure-devops", "s3cret"), None, "s3cret")
    verify_credentials(basic("", "s3cret"), None, " s3cret ")
    verify_credentials(None, "s3cret", "s3cret")
    verify_credentials(basic("x", "pass:with:colons"), None, "pass:with:colons")


@pytest.mark.parametrize(
    ("authorization", "header", "detail"),
    [
        (None, None, "no credentials: send the secret as the basic auth password or in X-Firebell-Secret"),
        (basic("azure-devops", "wrong"), None, "the service hook's secret does not match BOARDS_SERVICE_HOOK_SECRET"),
        (basic("azure-devops", "s3cre"), None, "the service hook's secret does not match BOARDS_SERVICE_HOOK_SECRET"),
        (None, "s3cretX", "the service hook's secret does not match BOARDS_SERVICE_HOOK_SECRET"),
        ("Basic !!!", None, "the basic auth credentials are not valid base64 of user:password"),
        ("Basic " + base64.b64encode(b"no-colon").decode(), None, "the basic auth credentials are not user:password"),
        # A wrong basic password is not rescued by a right header: the first credential offered is the one checked.
        (basic("a", "wrong"), "s3cret", "the service hook's secret does not match BOARDS_SERVICE_HOOK_SECRET"),
    ],
)
def test_missing_malformed_or_wrong_credentials_are_unauthorized(authorization, header, detail):
    with pytest.raises(Unauthorized) as refused:
        verify_credentials(authorization, header, "s3cret")
    assert refused.value.detail == detail


def test_without_the_secret_setting_nothing_is_authenticated_and_it_says_not_configured():
    with pytest.raises(ConfigurationError) as missing:
        verify_credentials(basic("a", ""), None, "  ")
    assert (missing.value.code, missing.value.detail) == (
        "not_configured",
        "Azure Boards service hook: BOARDS_SERVICE_HOOK_SECRET is not set",
    )


def test_the_documented_sample_event_is_read_with_its_quirks():
    # workItemId is 0 in the sample: the work item is revision.id; the new state is in resource.fields, because
    # revision.fields still shows the state before; ChangedDate and ChangedBy come from where they are present.
    assert parse_event(sample_event()) == WorkItemUpdate(
        work_item_id=5,
        rev=2,
        state="Approved",
        previous_state="New",
        changed_by="Jamal Hartnett",
        changed_at=datetime(2014, 7, 15, 17, 42, 44, 663000, tzinfo=UTC),
    )


def test_an_update_without_a_state_change_names_no_state_and_identities_may_be_objects_or_name_and_email():
    document = sample_event()
    del document["resource"]["fields"]["System.State"]
    document["resource"]["fields"]["System.ChangedBy"] = {"newValue": "Priya Raman <priya.raman@example.com>"}
    update = parse_event(document)
    assert isinstance(update, WorkItemUpdate)
    assert (update.state, update.previous_state, update.changed_by) == (None, None, "Priya Raman")
    document["resource"]["fields"]["System.ChangedBy"] = {"newValue": {"displayName": "Aiko Tanaka", "id": "x"}}
    assert parse_event(document).changed_by == "Aiko Tanaka"  # type: ignore[union-attr]


def test_other_event_types_are_ignored_with_the_reason():
    document = sample_event()
    document["eventType"] = "git.push"
    assert parse_event(document) == Ignored("event type 'git.push' is not workitem.updated; nothing to do")


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        ({"eventType": 7}, "eventType must be a non-empty string, got 7"),
        ({"resource": "5"}, "resource must be an object (the work item update), got '5'"),
        ({"resource": {"fields": [], "rev": 2, "workItemId": 5}}, "resource.fields must be an object, got []"),
        ({"resource": {"workItemId": True, "rev": 2}}, "resource.workItemId (or resource.revision.id) must name"),
        ({"resource": {"workItemId": 5, "rev": -1}}, "resource.rev (or resource.revision.rev) must be the revision"),
        (
            {"resource": {"workItemId": 5, "rev": 2, "fields": {"System.State": {"newValue": 3}}}},
            "resource.fields System.State newValue must be a state name, got 3",
        ),
    ],
)
def test_events_not_shaped_like_a_work_item_update_are_invalid(change, detail):
    document = {**sample_event(), **change}
    with pytest.raises(InvalidInput) as invalid:
        parse_event(json.loads(json.dumps(document)))
    assert invalid.value.detail.startswith(detail)


# --- reminders ------------------------------------------------------------------------------------------------------
def tracked(zone: str, due: date | None = date(2026, 12, 20)) -> TrackedFollowUp:
    return TrackedFollowUp("INC-7", "action-abc", "e1", "Add a retry budget", "Priya Raman", zone, 12, "https://x", due)


def test_an_owner_is_first_reminded_at_nine_in_their_zone_on_the_day_after_the_due_date():
    assert tracked("Australia/Sydney").remind_from == datetime(2026, 12, 20, 22, 0, tzinfo=UTC)  # 09:00 AEDT
    assert tracked("America/Denver").remind_from == datetime(2026, 12, 21, 16, 0, tzinfo=UTC)  # 09:00 MST
    assert tracked("UTC").remind_from == datetime(2026, 12, 21, 9, 0, tzinfo=UTC)
    assert tracked("UTC", due=None).remind_from is None


def test_one_reminder_key_per_day_of_the_owner_and_none_before_nine_there():
    sydney = tracked("Australia/Sydney")
    assert reminder_key(sydney, datetime(2026, 12, 20, 21, 59, tzinfo=UTC)) is None  # 08:59 in Sydney
    assert reminder_key(sydney, datetime(2026, 12, 20, 22, 0, tzinfo=UTC)) == "followup-action-abc-2026-12-21"
    assert reminder_key(sydney, datetime(2026, 12, 21, 12, 59, tzinfo=UTC)) == "followup-action-abc-2026-12-21"
    assert reminder_key(sydney, datetime(2026, 12, 21, 13, 0, tzinfo=UTC)) is None  # midnight there: not yet
    assert reminder_key(sydney, datetime(2026, 12, 21, 22, 0, tzinfo=UTC)) == "followup-action-abc-2026-12-22"


# --- the task's due date and the configuration ----------------------------------------------------------------------
def test_the_task_carries_the_due_date_at_noon_utc_in_the_configured_field():
    incident = Incident(
        id="INC-7",
        number=7,
        title="Checkout is slow",
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="investigating",
        source="person",
        source_detail="",
        detected_at=SAID,
        declared_at=SAID,
        updated_at=SAID,
    )
    event = TimelineEvent("INC-7", "e1", FOLLOW_UP_ADDED, SAID, SAID, "Tim Jones", "teams", "t")
    follow_up = plan.FollowUp(event, "Add a retry budget", "Priya Raman", date(2026, 12, 20))
    document = plan.follow_up_document(
        incident, follow_up, "https://x/_apis/wit/workItems/1", None, None, plan.Links(), "Custom.FollowUpDue"
    )
    assert {"op": "add", "path": "/fields/Custom.FollowUpDue", "value": "2026-12-20T12:00:00Z"} in document
    undated = plan.follow_up_document(incident, plan.FollowUp(event, "x", "Tim Jones"), "u", None, None, plan.Links())
    assert not [op for op in undated if "Due" in op["path"]]


def test_boards_toml_names_the_due_date_field_and_the_done_states():
    assert (BoardsConfig().due_date_field, BoardsConfig().done_states) == (
        "Microsoft.VSTS.Scheduling.DueDate",
        ("Closed", "Done"),
    )
    config = parse_boards_config({"due_date_field": "Custom.Due", "done_states": ["Done", "Removed"]}, "boards.toml")
    assert (config.due_date_field, config.done_states) == ("Custom.Due", ("Done", "Removed"))
    with pytest.raises(ConfigurationError, match="done_states must be a non-empty list"):
        parse_boards_config({"done_states": []}, "boards.toml")
    with pytest.raises(ConfigurationError, match="due_date_field: 'Due Date' is not a field reference name"):
        parse_boards_config({"due_date_field": "Due Date"}, "boards.toml")


def test_the_day_a_follow_up_is_due_is_not_a_reason_to_remind_anyone_yet():
    # Due "today": the owner has until the end of the day; the first reminder is the next morning.
    follow_up = tracked("UTC", due=date(2026, 12, 6))
    assert follow_up.remind_from is not None and follow_up.remind_from - SAID == timedelta(hours=10, minutes=30)
