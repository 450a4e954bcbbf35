"""Settings from the environment (Azure app settings, or local.settings.json under the devhost). Storage settings are
read by shared/core/storage.py alone (StorageTarget)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

# The documented limit of an Azure Monitor alert; also the ceiling for every JSON body we accept.
MAX_BODY_BYTES = 256 * 1024
DEVELOPMENT_ID_KEY = "firebell-development-status-page-ids"


@dataclass(frozen=True)
class Settings:
    config_dir: Path
    status_page_title: str
    status_page_url: str
    teams_workflow_url: str = ""  # Teams Workflows webhook for notification cards; empty: not configured
    azure_devops_org_url: str = ""  # https://dev.azure.com/<organisation>; empty: Boards not configured
    azure_devops_project: str = ""
    azure_devops_pat: str = field(default="", repr=False)  # empty: a managed identity token is used instead
    api_base_url: str = ""  # https://<WEBSITE_HOSTNAME>/api: links to the incident API from work items
    # The key of the status page's public incident ids (shared/statuspage/public_ids.py). Unset: a built-in key,
    # fine locally; in Azure, infra/ sets a key of its own, because with the built-in one anybody can compute which
    # public id is INC-7.
    status_page_id_key: str = field(default=DEVELOPMENT_ID_KEY, repr=False)
    # Incident channels (shared.channels): the incidents team, and who Firebell is in Graph. No team: not configured.
    graph_team_id: str = ""
    graph_tenant_id: str = ""
    graph_client_id: str = ""  # the app registration (with a secret), or a user-assigned managed identity
    graph_client_secret: str = field(default="", repr=False)  # empty: the managed identity's token is used
    graph_url: str = "https://graph.microsoft.com/v1.0"
    channel_severity: int = 2  # incidents of this severity or worse (1 is worst) get a channel when they open
    channel_archive_on: str = "closed"  # closed | resolved
    graph_client_state: str = field(default="", repr=False)  # change notifications' shared secret; empty: none
    teams_channel_workflow_url: str = ""  # Workflows flow posting a card into the channel named in the request
    # The Teams app (its app id in the org catalog) installed for paged people, whose manifest names Firebell's Entra
    # app: activity notifications to one person (`teams_activity` steps) go out as it. Empty: not configured.
    graph_teams_app_id: str = ""
    # Communication Services (SMS to paged people, docs/oncall.md); empty: not configured.
    acs_endpoint: str = ""  # https://<resource>.communication.azure.com
    acs_access_key: str = field(default="", repr=False)  # empty: the managed identity's Entra ID token instead
    acs_from_number: str = ""  # the resource's number, E.164
    acs_events_secret: str = field(default="", repr=False)  # in the Event Grid subscription's URL (?secret=)
    acs_cognitive_endpoint: str = ""  # Azure AI services connected to the resource: text-to-speech on calls
    ack_link_key: str = field(default="", repr=False)  # signs one-time acknowledgement links; empty: no links

    @classmethod
    def from_environment(cls, environ: dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            config_dir=Path(env.get("FIREBELL_CONFIG_DIR") or "config"),
            status_page_title=env.get("STATUS_PAGE_TITLE") or "Service status",
            status_page_url=env.get("STATUS_PAGE_URL") or "",
            teams_workflow_url=(env.get("TEAMS_WORKFLOW_URL") or "").strip(),
            azure_devops_org_url=(env.get("AZURE_DEVOPS_ORG_URL") or "").strip().rstrip("/"),
            azure_devops_project=(env.get("AZURE_DEVOPS_PROJECT") or "").strip(),
            azure_devops_pat=(env.get("AZURE_DEVOPS_PAT") or "").strip(),
            api_base_url=_api_base_url(env.get("WEBSITE_HOSTNAME") or ""),
            status_page_id_key=(env.get("STATUS_PAGE_ID_KEY") or "").strip() or DEVELOPMENT_ID_KEY,
            graph_team_id=(env.get("GRAPH_TEAM_ID") or "").strip(),
            graph_tenant_id=(env.get("GRAPH_TENANT_ID") or "").strip(),
            graph_client_id=(env.get("GRAPH_CLIENT_ID") or "").strip(),
            graph_client_secret=(env.get("GRAPH_CLIENT_SECRET") or "").strip(),
            graph_url=(env.get("GRAPH_URL") or "").strip().rstrip("/") or "https://graph.microsoft.com/v1.0",
            channel_severity=_severity(env.get("GRAPH_CHANNEL_SEVERITY")),
            channel_archive_on="resolved" if (env.get("GRAPH_ARCHIVE_ON") or "").strip() == "resolved" else "closed",
            graph_client_state=(env.get("GRAPH_CLIENT_STATE") or "").strip(),
            teams_channel_workflow_url=(env.get("TEAMS_CHANNEL_WORKFLOW_URL") or "").strip(),
            graph_teams_app_id=(env.get("GRAPH_TEAMS_APP_ID") or "").strip(),
            acs_endpoint=(env.get("ACS_ENDPOINT") or "").strip().rstrip("/"),
            acs_access_key=(env.get("ACS_ACCESS_KEY") or "").strip(),
            acs_from_number=(env.get("ACS_FROM_NUMBER") or "").strip(),
            acs_events_secret=(env.get("ACS_EVENTS_SECRET") or "").strip(),
            acs_cognitive_endpoint=(env.get("ACS_COGNITIVE_SERVICES_ENDPOINT") or "").strip(),
            ack_link_key=(env.get("FIREBELL_ACK_LINK_KEY") or "").strip(),
        )

    @property
    def channels_configured(self) -> bool:
        return bool(self.graph_team_id and (self.graph_tenant_id or not self.graph_client_secret))

    @property
    def teams_activity_configured(self) -> bool:
        """The Teams app is named and Graph can sign in: an app secret with its tenant, or the managed identity."""
        return bool(self.graph_teams_app_id and (self.graph_tenant_id or not self.graph_client_secret))

    @property
    def sms_configured(self) -> bool:
        return bool(self.acs_endpoint and self.acs_from_number)  # no access key: the managed identity signs in

    @property
    def boards_configured(self) -> bool:
        return bool(self.azure_devops_org_url and self.azure_devops_project)


def _severity(value: str | None) -> int:
    """GRAPH_CHANNEL_SEVERITY: 1–4, or 0 for "only when asked for"; anything else: the default, 2."""
    text = (value or "").strip()
    return int(text) if text in ("0", "1", "2", "3", "4") else 2


def _api_base_url(hostname: str) -> str:
    """Azure sets WEBSITE_HOSTNAME to the app's host name (Core Tools: localhost:7071); local hosts speak plain HTTP."""
    host = hostname.strip().rstrip("/")
    if not host:
        return ""
    scheme = "http" if host.split(":")[0] in ("localhost", "127.0.0.1") else "https"
    return f"{scheme}://{host}/api"
