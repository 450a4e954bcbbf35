"""Entra ID as far as Azurite's `--oauth basic` needs it: a self-signed certificate for its HTTPS, storage tokens it
accepts, a TokenCredential that hands them out, and an App Service managed-identity endpoint that issues them.

What `--oauth basic` checks (Azurite 3.x, src/{blob,queue,table}/authentication/*TokenAuthenticator.ts): the request
is HTTPS; the bearer token decodes as a JWT (the signature is not verified); `nbf`, `exp` and `iat` are present and
now lies between `nbf` and `exp`; `iss` starts with `https://sts.windows.net/` (or another cloud's STS); `aud` is
`https://storage.azure.com` (or the storage app id, or the account's own service URL).

HTTPS trust: Azurite's certificate is self-signed, so the SDKs must be told to trust it. Their transport is
requests (azure-core's RequestsTransport), which verifies against REQUESTS_CA_BUNDLE when set — a process setting
that needs no code in Firebell, works the same for a devhost subprocess, and leaves Azure's behaviour untouched.
The bundle written here is certifi's roots plus this certificate, so other HTTPS in the process still verifies.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi
import jwt
from azure.core.credentials import AccessToken, AccessTokenInfo
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.wrappers import Request, Response

from tests.standins.local_server import LocalServer

STORAGE_AUDIENCE = "https://storage.azure.com"
# Communication Services (SMS, Call Automation): the Azure SDKs ask scope https://communication.azure.com//.default,
# so the token's audience (and the resource the managed-identity endpoint is asked for) ends in a slash.
COMMUNICATION_AUDIENCE = "https://communication.azure.com/"
TENANT_ID = "72f988bf-0000-4000-8000-00000000f1be"  # a made-up tenant
ISSUER = f"https://sts.windows.net/{TENANT_ID}/"


@dataclass(frozen=True)
class Certificate:
    cert: Path  # PEM: Azurite's --cert
    key: Path  # PEM: Azurite's --key
    ca_bundle: Path  # certifi's roots + cert: REQUESTS_CA_BUNDLE


def self_signed_certificate(folder: Path) -> Certificate:
    """A certificate for 127.0.0.1 and localhost, valid for a day, that is its own CA (so it can be trusted)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "firebell-test-azurite")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM)
    (folder / "azurite.pem").write_bytes(cert_pem)
    (folder / "azurite-key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (folder / "ca-bundle.pem").write_bytes(Path(certifi.where()).read_bytes() + b"\n" + cert_pem)
    return Certificate(folder / "azurite.pem", folder / "azurite-key.pem", folder / "ca-bundle.pem")


def storage_token(
    *,
    audience: str = STORAGE_AUDIENCE,
    issuer: str = ISSUER,
    lifetime: float = 3600,
    object_id: str = "",
) -> tuple[str, int]:
    """A JWT shaped like the one Entra ID issues a managed identity for Azure Storage, and when it expires. Signed
    with a throwaway key: Azurite's basic OAuth does not verify signatures."""
    now = int(time.time())
    expires = now + int(lifetime)
    claims: dict[str, Any] = {
        "aud": audience,
        "iss": issuer,
        "iat": now - 60,
        "nbf": now - 60,
        "exp": expires,
        "oid": object_id or str(uuid.uuid4()),
        "sub": object_id or str(uuid.uuid4()),
        "tid": TENANT_ID,
        "idtyp": "app",
        "ver": "1.0",
    }
    return jwt.encode(claims, secrets.token_bytes(32), algorithm="HS256"), expires


class StorageTestCredential:
    """azure-core's TokenCredential (and SupportsTokenInfo) handing out storage tokens; counts and records scopes."""

    def __init__(self, **token: Any) -> None:
        self._token = token
        self.scopes: list[tuple[str, ...]] = []
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        with self._lock:
            self.scopes.append(scopes)
        return AccessToken(*storage_token(**self._token))

    def get_token_info(self, *scopes: str, options: Any = None) -> AccessTokenInfo:
        token, expires = self.get_token(*scopes)
        return AccessTokenInfo(token, expires)


@dataclass(frozen=True)
class TokenRequest:
    resource: str
    client_id: str


class ManagedIdentityEndpoint(LocalServer):
    """The App Service / Functions managed-identity endpoint (IDENTITY_ENDPOINT + IDENTITY_HEADER):
    `GET ?api-version=2019-08-01&resource=…[&client_id=…]` with `X-IDENTITY-HEADER` → a token for that resource
    (storage, or Communication Services), its `aud` the resource."""

    def __init__(self, resources: tuple[str, ...] = (STORAGE_AUDIENCE, COMMUNICATION_AUDIENCE)) -> None:
        self.resources = resources
        self.header = secrets.token_hex(16)
        self._lock = threading.Lock()
        self._requests: list[TokenRequest] = []
        super().__init__(self._app, "managed-identity-standin")

    @property
    def endpoint(self) -> str:
        return f"{self.base}/msi/token"

    def environment(self) -> dict[str, str]:
        """What the platform sets in a Function App with a managed identity."""
        return {"IDENTITY_ENDPOINT": self.endpoint, "IDENTITY_HEADER": self.header}

    def requests(self) -> list[TokenRequest]:
        with self._lock:
            return list(self._requests)

    def _app(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path != "/msi/token" or request.headers.get("X-IDENTITY-HEADER") != self.header:
            response = Response(json.dumps({"statusCode": 401, "message": "bad request"}), status=401)
        elif request.args.get("api-version") != "2019-08-01" or request.args.get("resource") not in self.resources:
            response = Response(json.dumps({"statusCode": 400, "message": f"unexpected {dict(request.args)}"}), 400)
        else:
            with self._lock:
                self._requests.append(TokenRequest(request.args["resource"], request.args.get("client_id", "")))
            resource = request.args["resource"]
            token, expires = storage_token(audience=resource, object_id=request.args.get("client_id", ""))
            document = {
                "access_token": token,
                "expires_on": str(expires),
                "resource": resource,
                "token_type": "Bearer",
                "client_id": request.args.get("client_id", ""),
            }
            response = Response(json.dumps(document), content_type="application/json")
        return response(environ, start_response)
