"""The app's identity gets only what sending SMS and placing calls with Entra ID needs on Communication Services: a
custom role of the resource's Read and Write actions, never Contributor or Owner (which can list and regenerate the
access keys Entra ID replaces)."""

from tests.infra.bicep_model import INFRA, parse

MODULE = INFRA / "modules" / "communication.bicep"
BROAD_ROLES = {
    "b24988ac-6180-42a0-ab88-20f7382dd24c",  # Contributor
    "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",  # Owner
}


def test_the_custom_role_has_read_and_write_only_and_is_what_is_assigned():
    document = parse(MODULE)
    role = document["resources"]["senderRole"]["config"]["config"]["properties"]
    ((permissions),) = role["permissions"]
    assert permissions == {
        "actions": [
            "Microsoft.Communication/CommunicationServices/Read",
            "Microsoft.Communication/CommunicationServices/Write",
        ],
        "notActions": [],
    }
    chosen = document["variables"]["roleDefinitionId"]["value"]["operator"]
    assert chosen["operands"]["condition"] == "useBuiltInRole"  # off by default: the custom role
    assert chosen["operands"]["false_value"]["operator"]["operands"] == {"operand_1": "senderRole", "operand_2": "id"}
    assignment = document["resources"]["appRole"]["config"]["properties"]
    assert assignment["roleDefinitionId"] == "roleDefinitionId"
    assert document["parameters"]["useBuiltInRole"]["default"] is False


def test_no_broad_role_is_granted():
    text = MODULE.read_text()
    assert not any(role in text for role in BROAD_ROLES)
