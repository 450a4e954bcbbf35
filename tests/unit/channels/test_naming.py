"""Channel names within Teams' rules, the same for every delivery."""

from datetime import UTC, datetime

from shared.channels.naming import MAX_NAME, channel_name, closed_name, description
from shared.incidents.incident import Incident

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
FORBIDDEN = set("~#%&*{}+/\\:<>?|'\",")


def incident(title: str, number: int = 7) -> Incident:
    return Incident(
        id=f"INC-{number}",
        number=number,
        title=title,
        service="checkout",
        components=("Checkout",),
        severity=2,
        status="triggered",
        source="customer",
        source_detail="Ana",
        detected_at=NOW,
        declared_at=NOW,
        updated_at=NOW,
    )


def test_the_name_is_the_id_and_the_title_without_forbidden_characters():
    assert (
        channel_name(incident("Checkout: 50% of cards fail / timeouts?")) == "INC-7 Checkout 50 of cards fail timeouts"
    )


def test_a_long_title_is_cut_at_a_word_and_the_id_is_always_whole():
    name = channel_name(incident("Payments " * 20, number=123456789))
    assert name.startswith("INC-123456789 Payments") and len(name) <= MAX_NAME and not name.endswith(" ")
    one_word = channel_name(incident("x" * 200))
    assert len(one_word) == MAX_NAME and one_word.startswith("INC-7 xxx")


def test_no_name_breaks_a_rule_whatever_the_title():
    for title in ("...", "a..b.", "'\"<>", "_hidden", "\u202eevil\u202c", "tab\there", "ends with a period."):
        name = channel_name(incident(title))
        assert not FORBIDDEN & set(name) and ".." not in name and len(name) <= MAX_NAME, name
        assert not name.endswith(".") and not name.startswith(("_", ".")), name
        assert name.startswith("INC-7"), name


def test_the_closed_name_carries_the_marker_and_the_description_the_links():
    assert closed_name(incident("Checkout down")) == "INC-7 closed Checkout down"
    text = description(incident("Checkout down"), "https://status.example.com/incidents/x.html", "https://runbooks/c")
    assert "Status page: https://status.example.com/incidents/x.html" in text and "Runbook: https://runbooks/c" in text
