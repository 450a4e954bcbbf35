"""Azure Monitor "secure webhook": verify the Entra ID bearer token an action group sends with each alert.

The action group asks Entra ID for an app-only access token for our app registration and sends it as
`Authorization: Bearer <JWT>`. We accept it when Entra ID signed it (RS256, a key of the tenant's published key
set), it was issued by the configured tenant (v1 or v2 issuer), it is meant for our app (application id URI or
client id) and it carries the `ActionGroupsSecureWebhook` app role, which only principals the tenant admin
assigned (the Azure Monitor action groups service principal) hold.

Pure: the clock and the key lookup are parameters; fetching the key set is `shared.azure_monitor.signing_keys`.
The same check serves Event Grid's Entra ID-protected webhook deliveries (shared.contacts.event_grid), with their
own settings (`prefix`) and app role.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from shared.core.errors import ConfigurationError, Unauthorized

TENANT_SETTING = "FIREBELL_ENTRA_TENANT_ID"
AUDIENCE_SETTING = "FIREBELL_ENTRA_AUDIENCE"
CLIENT_ID_SETTING = "FIREBELL_ENTRA_CLIENT_ID"
JWKS_URL_SETTING = "FIREBELL_ENTRA_JWKS_URL"

# The app role Azure Monitor's documented set-up script creates and assigns to the action groups service principal.
SECURE_WEBHOOK_ROLE = "ActionGroupsSecureWebhook"
# Entra ID signs access tokens with RS256 only. Pinning it rejects "none" and the HS256 key-confusion attack
# (an HMAC "signed" with our public key) before any key is looked up.
ACCEPTED_ALGORITHM = "RS256"
# Tolerated clock skew between Entra ID and this host, for `exp` and `nbf`.
CLOCK_SKEW_SECONDS = 60
# Only plain http to this machine (the tests' stand-in key server); anything else must be https.
_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost"})
_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# An algorithm name is echoed in the error detail only when it looks like one (never attacker prose).
_ALGORITHM_NAME = re.compile(r"[A-Za-z0-9]{1,16}")


class EntraSettings(NamedTuple):
    """The names of one feature's Entra ID settings, and the feature's name in errors."""

    tenant: str
    audience: str
    client_id: str
    jwks_url: str
    what: str


ALERTS = EntraSettings(TENANT_SETTING, AUDIENCE_SETTING, CLIENT_ID_SETTING, JWKS_URL_SETTING, "secure webhook")


@dataclass(frozen=True)
class SecureWebhookPolicy:
    """What a secure-webhook token must say: our tenant, our app, and where the tenant's signing keys are."""

    tenant_id: str
    audience: str  # application id URI, e.g. "api://firebell-alerts" (what v1 tokens usually carry as `aud`)
    jwks_url: str  # default https://login.microsoftonline.com/<tenant>/discovery/v2.0/keys
    # v2 access tokens always carry the app's client id as `aud`; accepted too when configured.
    client_id: str | None = None

    @property
    def issuers(self) -> tuple[str, str]:
        """Entra ID's v1 and v2 access-token issuers for the tenant (which one depends on the app manifest)."""
        return (
            f"https://sts.windows.net/{self.tenant_id}/",
            f"https://login.microsoftonline.com/{self.tenant_id}/v2.0",
        )

    @property
    def audiences(self) -> tuple[str, ...]:
        return (self.audience,) if not self.client_id else (self.audience, self.client_id)

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], names: EntraSettings = ALERTS) -> SecureWebhookPolicy | None:
        """The policy from the app settings `names` lists (the alert webhook's by default); None when the feature is
        off (neither tenant nor audience set)."""
        tenant_setting, audience_setting, client_setting, jwks_setting, what = names
        tenant_id = (environ.get(tenant_setting) or "").strip().lower()
        audience = (environ.get(audience_setting) or "").strip()
        if not tenant_id and not audience:
            return None
        if not tenant_id or not audience:
            missing = tenant_setting if not tenant_id else audience_setting
            raise ConfigurationError(
                f"{what}: {missing} is not set; set both {tenant_setting} and {audience_setting}, or neither"
            )
        if not _GUID.fullmatch(tenant_id):
            # A domain name (contoso.onmicrosoft.com) never matches the issuer, which names the tenant by id.
            raise ConfigurationError(f"{what}: {tenant_setting} must be the directory (tenant) id, a GUID")
        client_id = (environ.get(client_setting) or "").strip().lower() or None
        if client_id is not None and not _GUID.fullmatch(client_id):
            raise ConfigurationError(f"{what}: {client_setting} must be the application (client) id, a GUID")
        jwks_url = (environ.get(jwks_setting) or "").strip() or default_jwks_url(tenant_id)
        _require_trusted_url(jwks_url, jwks_setting, what)
        return cls(tenant_id=tenant_id, audience=audience, jwks_url=jwks_url, client_id=client_id)


def default_jwks_url(tenant_id: str) -> str:
    return f"https://login.microsoftonline.com/{tenant_id}/discovery/v2.0/keys"


def _require_trusted_url(url: str, setting: str = JWKS_URL_SETTING, what: str = "secure webhook") -> None:
    # Keys fetched over plain http could be swapped in transit, and then any token would verify.
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host in _LOOPBACK_HOSTS:
        return
    raise ConfigurationError(f"{what}: {setting} must be an https URL (plain http only for 127.0.0.1 or localhost)")


def verify_bearer(
    authorization: str | None,
    policy: SecureWebhookPolicy,
    signing_key_for: Callable[[str], Any],
    now: datetime,
    role: str = SECURE_WEBHOOK_ROLE,
) -> dict[str, Any]:
    """Verify the `Authorization` header value of a secure-webhook call; return the token's verified claims. `role`
    is the app role the caller must hold (Azure Monitor's by default).

    `signing_key_for(kid)` returns the public key Entra ID publishes under that key id, raises Unauthorized for a
    key id it does not publish, and may raise a 503-class error when the key set cannot be fetched.
    Every rejection is Unauthorized with a detail that names the failed check and never quotes the token.
    """
    import jwt  # loaded only when a token is verified: PyJWT pulls in cryptography (cold start)

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    token = _bearer_token(authorization)
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Unauthorized("bearer token is not a well-formed JWT") from None
    algorithm = header.get("alg")
    if algorithm != ACCEPTED_ALGORITHM:
        named = f"{algorithm!r} " if isinstance(algorithm, str) and _ALGORITHM_NAME.fullmatch(algorithm) else ""
        raise Unauthorized(f"token algorithm {named}is not accepted; Entra ID signs with RS256")
    kid = header.get("kid")
    if not kid:
        raise Unauthorized("token header has no key id (kid)")
    key = signing_key_for(kid)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ACCEPTED_ALGORITHM],
            audience=policy.audiences,
            issuer=policy.issuers,
            options={
                # PyJWT reads the wall clock; time is checked below against `now` instead.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "require": ["exp", "iss", "aud"],
                "enforce_minimum_key_length": True,
            },
        )
    except jwt.InvalidSignatureError:
        raise Unauthorized("token signature does not verify against the Entra ID signing key") from None
    except jwt.MissingRequiredClaimError as error:
        raise Unauthorized(f"token has no {error.claim!r} claim") from None
    except jwt.InvalidIssuerError:
        raise Unauthorized("token issuer is not the configured Entra ID tenant") from None
    except jwt.InvalidAudienceError:
        raise Unauthorized("token audience is not this application") from None
    except jwt.InvalidKeyError:
        raise Unauthorized("token signing key is not a usable RSA key of 2048 bits or more") from None
    except jwt.PyJWTError:
        raise Unauthorized("bearer token is not a well-formed JWT") from None
    _require_current(claims, now)
    roles = claims.get("roles")
    # A list, never a substring test on a string ("ActionGroupsSecureWebhookAdmin" is not the role).
    if not isinstance(roles, list) or role not in roles:
        raise Unauthorized(f"token lacks the {role} app role")
    return claims


def _bearer_token(authorization: str | None) -> str:
    if not authorization or not authorization.strip():
        raise Unauthorized("Authorization header is missing; a secure webhook sends 'Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or any(c.isspace() for c in token):
        raise Unauthorized("Authorization header is not 'Bearer <token>'")
    return token


def _require_current(claims: Mapping[str, Any], now: datetime) -> None:
    instant = now.timestamp()
    expires = _numeric_date(claims, "exp")
    if expires is None:
        raise Unauthorized("token has no 'exp' claim")
    if expires <= instant - CLOCK_SKEW_SECONDS:
        raise Unauthorized("token has expired")
    not_before = _numeric_date(claims, "nbf")
    if not_before is not None and not_before > instant + CLOCK_SKEW_SECONDS:
        raise Unauthorized("token is not valid yet (nbf is in the future)")


def _numeric_date(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise Unauthorized(f"token claim {name!r} is not a NumericDate")
    return float(value)
