"""What the unit tests of the status page share: the public id of an incident under the development key, and a
publication policy that shows every severity at once (the policy itself is tested in test_publication.py)."""

from shared.catalog.publication import DECLARED, PublicationPolicy
from shared.core.settings import DEVELOPMENT_ID_KEY
from shared.statuspage.public_ids import public_id

EVERY_SEVERITY_AT_ONCE = PublicationPolicy(dict.fromkeys(range(1, 5), DECLARED))


def pid(incident_id: str) -> str:
    """The public id the status page gives `incident_id` (under the development key the tests render with)."""
    return public_id(incident_id, DEVELOPMENT_ID_KEY.encode())
