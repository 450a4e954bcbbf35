"""The Entra ID key endpoint down across a key-cache expiry while secure-webhook alerts keep arriving, with time made
fast (chaos.outages: the alerts function's steps with the signing-key cache on a simulated clock, a real key endpoint
socket, Azurite): after warm-up no genuine alert is refused with 503 while the last good key set lasts, a token
signed with a key the tenant rotated to is answered 503 (retried), never 401, and is accepted once the endpoint is
back."""

from __future__ import annotations

from datetime import timedelta

from chaos.outages import key_outage, key_outage_broken, write_config


def test_alerts_are_accepted_through_a_key_endpoint_outage_and_a_rotated_key_is_retried_not_refused(
    azurite, storage_account, tmp_path
):
    seen = key_outage(azurite.connection_string, write_config(tmp_path / "config"), every=timedelta(minutes=5))
    # Signed with the key the last good set holds: accepted before, during (500s, then answers held past the fetch
    # timeout) and after the outage, across the cache's expiry at 60 min.
    for phase in ("before", "down", "down, cache expired"):
        assert seen.count(503, phase=phase, kind="k1") == 0
        assert seen.count(202, phase=phase, kind="k1") > 0
    assert seen.count(503, phase="back", kind="k2") == 0 and seen.count(202, phase="back", kind="k2") > 0
    # Genuine tokens are never refused; only the forged one is.
    assert [key for key in seen.answers if key[2] == 401] == [("back", "forged", 401)]
    # Signed with the rotated key while the endpoint was down: 503, retried, accepted once it is back.
    assert seen.count(503, phase="down, cache expired", kind="k2") > 0
    assert seen.rotated_first_accepted == seen.back_at
    # The key Entra ID rotated to right after a forged kid spent the refetch: 503 inside the window, then accepted.
    assert seen.count(503, phase="back", kind="k3") == 4
    # Every alert answered 503 was accepted on one of Azure Monitor's retries (five minutes apart here); none was lost.
    assert sum(seen.lost.values()) == 0
    assert seen.retried_until_accepted == seen.count(503, kind="k2") + seen.count(503, kind="k3")
    assert key_outage_broken(seen) == []
