"""Configuration files: TOML allows characters the text policy forbids; they are refused at start-up, named."""

from __future__ import annotations

import pytest

from shared.core.config_file import read_toml
from shared.core.errors import ConfigurationError


@pytest.mark.parametrize(
    ("toml", "where"),
    [
        ('[[service]]\nid = "checkout"\ncomponent = "Check\\uFFFFout"\n', "service[0].component"),
        ('title = "Status\\u0085"\n', "title"),
        ('[rosters.payments]\nname = "Pay\\U0010FFFE"\n', "rosters.payments.name"),
    ],
)
def test_text_no_page_or_feed_can_carry_is_refused_naming_file_and_key(tmp_path, toml, where):
    path = tmp_path / "services.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigurationError) as refused:
        read_toml(path)
    assert refused.value.detail.startswith(f"{path}: {where}: contains ")


def test_ordinary_text_in_any_script_is_read_as_written(tmp_path):
    path = tmp_path / "services.toml"
    path.write_text('[[service]]\nid = "checkout"\ncomponent = "Kasse 💳 — 決済 — الدفع"\n', encoding="utf-8")
    assert read_toml(path) == {"service": [{"id": "checkout", "component": "Kasse 💳 — 決済 — الدفع"}]}
