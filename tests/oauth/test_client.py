"""Unit tests of OAuthClient and AsyncOAuthClient over httpx.MockTransport (SECURITY 9-20)."""

from __future__ import annotations

import inspect
import ipaddress
import json
import logging
import ssl
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from zoho_invoice import (
    ConfigurationError,
    DataCenterError,
    InvalidGrantError,
    OAuthError,
    OAuthTransientError,
    TokenResponseError,
    TokenThrottledError,
    ZohoError,
)
from zoho_invoice._http import httpx
from zoho_invoice.datacenters import DataCenter, DataCenterTable
from zoho_invoice.oauth import AsyncOAuthClient, OAuthClient, code_challenge, make_code_verifier
from zoho_invoice_sandbox import create_sandbox_app, datacenters_table

SECRET = "client-secret-value-42"
ACCESS = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
REFRESH = "1000.aaaabbbbccccddddeeeeffff00001111.2222333344445555666677778888999a"
REDIRECT = "https://app.example.com/zoho/callback"
SCOPES = ["ZohoInvoice.invoices.READ", "ZohoInvoice.contacts.CREATE"]
Handler = Callable[[httpx.Request], httpx.Response]


def token_answer(api_domain: str = "https://www.zohoapis.eu", **extra: object) -> httpx.Response:
    payload: dict[str, object] = {
        "access_token": ACCESS,
        "refresh_token": REFRESH,
        "api_domain": api_domain,
        "token_type": "Bearer",
        "expires_in": 3600,
    }
    payload.update(extra)
    return httpx.Response(200, json=payload)


class Recorder:
    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return self.answer(request)


def make_client(handler: Handler, table: DataCenterTable | None = None) -> OAuthClient:
    return OAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr(SECRET),
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        datacenters=table or DataCenterTable.builtin(),
        http=httpx.Client(transport=httpx.MockTransport(handler)),
    )


def make_async_client(handler: Handler) -> AsyncOAuthClient:
    return AsyncOAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr(SECRET),
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        datacenters=DataCenterTable.builtin(),
        http=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
    )


def form(request: httpx.Request) -> dict[str, list[str]]:
    return parse_qs(request.content.decode())


# -- the authorize URL ------------------------------------------------------------------------


def test_s11_authorization_url_has_every_required_parameter() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(500)))
    verifier = make_code_verifier()
    url = client.authorization_url(state="opaque-state", code_challenge=code_challenge(verifier))
    parts = urlsplit(url)
    assert (
        f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://accounts.zoho.com/oauth/v2/auth"
    )
    query = parse_qs(parts.query)
    assert {k: v[0] for k, v in query.items()} == {
        "client_id": "1000.CLIENTID",
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "ZohoInvoice.invoices.READ,ZohoInvoice.contacts.CREATE",
        "access_type": "offline",
        "prompt": "consent",
        "state": "opaque-state",
        "code_challenge": code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    assert all(len(v) == 1 for v in query.values())
    assert verifier not in url and SECRET not in url


def test_s11_china_starts_at_its_own_server_others_at_us() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(500)))
    assert client.authorization_url(state="s", code_challenge="c", location="cn").startswith(
        "https://accounts.zoho.com.cn/oauth/v2/auth?"
    )
    assert client.authorization_url(state="s", code_challenge="c", location="eu").startswith(
        "https://accounts.zoho.com/oauth/v2/auth?"
    )


# -- the code exchange ------------------------------------------------------------------------


def test_exchange_posts_a_form_to_the_connections_datacenter() -> None:
    recorder = Recorder(lambda r: token_answer())
    client = make_client(recorder)
    tokens = client.exchange_code(client.datacenters.get("eu"), "1000.code.abc", "v" * 43)
    assert tokens.access_token == ACCESS and tokens.refresh_token == REFRESH
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://accounts.zoho.eu/oauth/v2/token"  # nothing in the query
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert {k: v[0] for k, v in form(request).items()} == {
        "grant_type": "authorization_code",
        "client_id": "1000.CLIENTID",
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "code": "1000.code.abc",
        "code_verifier": "v" * 43,
    }


def test_s09_a_datacenter_not_in_the_table_gets_nothing() -> None:
    recorder = Recorder(lambda r: token_answer())
    client = make_client(recorder)
    evil = DataCenter("eu", "https://accounts.zoho.eu.evil.com", "https://www.zohoapis.eu")
    with pytest.raises(DataCenterError):
        client.exchange_code(evil, "code", "v" * 43)
    with pytest.raises(DataCenterError):
        client.refresh("xx", REFRESH)
    with pytest.raises(DataCenterError):
        client.revoke(DataCenter("us", "https://evil.example", "https://x.example"), REFRESH)
    assert recorder.requests == []


def test_s09_redirects_are_not_followed() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "evil.example":
            return token_answer()
        return httpx.Response(302, headers={"Location": "https://evil.example/steal"})

    recorder = Recorder(answer)
    client = make_client(recorder)
    with pytest.raises(OAuthError, match="redirect"):
        client.refresh("eu", REFRESH)
    assert [r.url.host for r in recorder.requests] == ["accounts.zoho.eu"]


class ImpostorAccounts:
    """An HTTPS server on loopback with a self-signed certificate (an impostor on the network):
    it records every HTTP request that reaches it, i.e. one whose TLS handshake succeeded."""

    def __init__(self, tmp_path: Path) -> None:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        pem = tmp_path / "impostor.pem"
        pem.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pem)
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                seen.append(self.path)
                self.send_response(200)
                self.end_headers()

            def log_message(self, fmt: str, *args: object) -> None:
                return None

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return None  # the client refusing our certificate is the expected outcome

        self.certificate = str(pem)
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


def test_s10_own_http_client_verifies_tls_and_there_is_no_switch(tmp_path: Path) -> None:
    impostor = ImpostorAccounts(tmp_path)
    table = DataCenterTable({"us": DataCenter("us", impostor.url, impostor.url)})
    client = OAuthClient(
        client_id="1000.CLIENTID",
        client_secret=SecretStr(SECRET),
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        datacenters=table,
    )
    try:
        # The client's own HTTP client refuses a certificate no CA vouches for: the refresh
        # token and the client secret never reach the impostor.
        with pytest.raises(ZohoError) as refused:
            client.refresh("us", REFRESH)
        assert isinstance(refused.value, OAuthTransientError)
        assert impostor.requests == []
        assert REFRESH not in str(refused.value) and SECRET not in str(refused.value)
        # The impostor is reachable: a client told to trust its certificate gets through.
        trusting = ssl.create_default_context(cafile=impostor.certificate)
        with httpx.Client(verify=trusting, trust_env=False) as other:
            assert other.post(impostor.url + "/oauth/v2/token").status_code == 200
        assert impostor.requests == ["/oauth/v2/token"]
    finally:
        client.close()
        impostor.close()
    for cls in (OAuthClient, AsyncOAuthClient):
        assert "verify" not in inspect.signature(cls).parameters


def _token_or_revoke(api_domain: str) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/revoke"):
            return httpx.Response(200, json={"status": "success"})
        return token_answer(api_domain=api_domain)

    return answer


def test_s19_api_domain_of_another_datacenter_is_rejected_and_the_minted_token_revoked() -> None:
    recorder = Recorder(_token_or_revoke("https://www.zohoapis.com"))
    client = make_client(recorder)
    with pytest.raises(TokenResponseError, match="API domain") as info:
        client.exchange_code("eu", "code", "v" * 43)
    assert REFRESH not in str(info.value) and "revoked" in str(info.value)
    _token, revoke = recorder.requests
    assert revoke.url.host == "accounts.zoho.eu" and revoke.url.path.endswith("/token/revoke")
    assert form(revoke)["token"] == [REFRESH] and REFRESH not in str(revoke.url)
    evil = make_client(Recorder(_token_or_revoke("https://evil.example")))
    with pytest.raises(TokenResponseError):
        evil.refresh("eu", REFRESH)


def test_s19_refusal_stands_when_the_revoke_fails() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/revoke"):
            raise httpx.ConnectError("down", request=request)
        return token_answer(api_domain="https://evil.example")

    with pytest.raises(TokenResponseError, match="nothing was stored"):
        make_client(Recorder(answer)).exchange_code("eu", "code", "v" * 43)


def test_a_body_that_does_not_match_its_encoding_is_transient() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, stream=httpx.ByteStream(b"not gzip"), headers={"Content-Encoding": "gzip"}
        )

    with pytest.raises(OAuthTransientError, match="connect again"):
        make_client(Recorder(answer)).exchange_code("eu", "code", "v" * 43)
    with pytest.raises(OAuthTransientError, match="try again later"):
        make_client(Recorder(answer)).refresh("eu", REFRESH)


def test_s20_exchange_timeout_is_not_retried_and_says_connect_again() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    recorder = Recorder(answer)
    client = make_client(recorder)
    with pytest.raises(OAuthTransientError, match="connect again") as info:
        client.exchange_code("eu", "1000.code.abc", "v" * 43)
    assert len(recorder.requests) == 1
    assert "1000.code.abc" not in str(info.value)


def test_s17_zoho_200_error_on_exchange_stores_nothing() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(200, json={"error": "invalid_code"})))
    with pytest.raises(InvalidGrantError):
        client.exchange_code("eu", "code", "v" * 43)


# -- refresh -----------------------------------------------------------------------------------


def test_refresh_sends_the_refresh_grant_once() -> None:
    recorder = Recorder(lambda r: token_answer(refresh_token=None))
    client = make_client(recorder)
    tokens = client.refresh("eu", REFRESH)
    assert tokens.refresh_token is None and tokens.access_token == ACCESS
    (request,) = recorder.requests
    assert {k: v[0] for k, v in form(request).items()} == {
        "grant_type": "refresh_token",
        "client_id": "1000.CLIENTID",
        "client_secret": SECRET,
        "refresh_token": REFRESH,
    }
    assert REFRESH not in str(request.url) and SECRET not in str(request.url)


def test_refresh_5xx_is_one_attempt_and_transient() -> None:
    recorder = Recorder(lambda r: httpx.Response(503, text="busy"))
    with pytest.raises(OAuthTransientError):
        make_client(recorder).refresh("eu", REFRESH)
    assert len(recorder.requests) == 1


def test_throttle_wording_raises_throttled() -> None:
    answer = {
        "error": "Access Denied",
        "error_description": "You have made too many requests continuously.",
        "status": "failure",
    }
    client = make_client(Recorder(lambda r: httpx.Response(200, json=answer)))
    with pytest.raises(TokenThrottledError):
        client.refresh("eu", REFRESH)


# -- revoke -------------------------------------------------------------------------------------


def test_revoke_sends_the_token_in_the_form_body_never_in_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """As Zoho's official SDKs do: ``POST {accounts}/oauth/v2/token/revoke``, ``token=`` in the
    body; the URL (kept by proxies and access logs) has no query at all."""
    recorder = Recorder(lambda r: httpx.Response(200, json={"status": "success"}))
    client = make_client(recorder)
    with caplog.at_level(logging.DEBUG):
        client.revoke("au", REFRESH)
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == "https://accounts.zoho.com.au/oauth/v2/token/revoke"
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert form(request) == {"token": [REFRESH]}
    assert REFRESH not in caplog.text and "aaaabbbb" not in caplog.text


def test_revoke_unknown_token_is_invalid_grant() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(400, json={"error": "invalid_token"})))
    with pytest.raises(InvalidGrantError):
        client.revoke("eu", REFRESH)


def test_revoke_server_trouble_is_transient() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(500, text="oops")))
    with pytest.raises(OAuthTransientError):
        client.revoke("eu", REFRESH)


def test_s38_client_repr_and_errors_hide_the_secret() -> None:
    client = make_client(Recorder(lambda r: httpx.Response(200, json={"error": "invalid_client"})))
    assert SECRET not in repr(client)
    with pytest.raises(OAuthError) as info:
        client.refresh("eu", REFRESH)
    assert SECRET not in str(info.value) and REFRESH not in str(info.value)


# -- the async twin -----------------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_twin_behaves_the_same() -> None:
    recorder = Recorder(lambda r: token_answer())
    async with make_async_client(recorder) as client:
        tokens = await client.exchange_code("eu", "code", "v" * 43)
        assert tokens.access_token == ACCESS
        refreshed = await client.refresh("eu", REFRESH)
        assert refreshed.refresh_token == REFRESH
    assert [str(r.url) for r in recorder.requests] == [
        "https://accounts.zoho.eu/oauth/v2/token"
    ] * 2
    assert json.dumps(form(recorder.requests[1])["grant_type"]) == '["refresh_token"]'


@pytest.mark.anyio
async def test_async_s20_and_s09_and_revoke() -> None:
    def timeout(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    with pytest.raises(OAuthTransientError, match="connect again"):
        await make_async_client(Recorder(timeout)).exchange_code("eu", "code", "v" * 43)
    recorder = Recorder(lambda r: httpx.Response(302, headers={"Location": "https://evil"}))
    with pytest.raises(OAuthError, match="redirect"):
        await make_async_client(recorder).refresh("us", REFRESH)
    assert len(recorder.requests) == 1
    revoked = Recorder(lambda r: httpx.Response(200, json={"status": "success"}))
    await make_async_client(revoked).revoke("jp", REFRESH)
    assert str(revoked.requests[0].url) == "https://accounts.zoho.jp/oauth/v2/token/revoke"
    assert form(revoked.requests[0]) == {"token": [REFRESH]}


@pytest.mark.anyio
async def test_async_s19_api_domain_of_another_datacenter_revokes_the_minted_token() -> None:
    recorder = Recorder(_token_or_revoke("https://www.zohoapis.com"))
    with pytest.raises(TokenResponseError, match="revoked"):
        await make_async_client(recorder).exchange_code("eu", "code", "v" * 43)
    assert [r.url.path for r in recorder.requests] == ["/oauth/v2/token", "/oauth/v2/token/revoke"]


def _client_with(http: object, table: DataCenterTable | None = None) -> object:
    cls = AsyncOAuthClient if isinstance(http, httpx.AsyncClient) else OAuthClient
    return cls(
        client_id="1000.CLIENTID",
        client_secret=SecretStr(SECRET),
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        datacenters=table or DataCenterTable.builtin(),
        http=http,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    "make",
    [
        lambda: httpx.Client(verify=False),
        lambda: httpx.AsyncClient(verify=False),
        lambda: httpx.Client(transport=httpx.HTTPTransport(verify=False)),
        lambda: httpx.Client(mounts={"https://": httpx.HTTPTransport(verify=False)}),
    ],
)
def test_s10_injected_client_without_tls_verification_is_refused(make) -> None:
    with pytest.raises(ConfigurationError, match="verify TLS"):
        _client_with(make())


def test_s10_injected_clients_that_verify_or_stay_in_process_are_accepted() -> None:
    _client_with(httpx.Client())
    _client_with(httpx.AsyncClient())
    _client_with(httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200))))


def test_s10_unknown_transport_refused_for_zoho_but_fine_for_a_sandbox_table() -> None:
    class Custom(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200)

    with pytest.raises(ConfigurationError, match="cannot be checked"):
        _client_with(httpx.Client(transport=Custom()))
    sandbox = DataCenterTable.from_mapping(
        {"us": {"accounts_url": "http://127.0.0.1:9/a/us", "api_domain": "http://127.0.0.1:9/x"}}
    )
    _client_with(httpx.Client(transport=Custom()), sandbox)
    _client_with(httpx.Client(verify=False), sandbox)


def _table_file(tmp_path, entries: dict[str, tuple[str, str]]) -> DataCenterTable:
    """A table loaded the way ZOHO_DATACENTERS loads it: from a JSON file."""
    path = tmp_path / "datacenters.json"
    path.write_text(
        json.dumps(
            {location: {"accounts_url": a, "api_domain": b} for location, (a, b) in entries.items()}
        )
    )
    return DataCenterTable.from_file(path)


ZOHO_US = ("https://accounts.zoho.com", "https://www.zohoapis.com")
LOOPBACK_US = ("http://127.0.0.1:8090/accounts/us", "http://127.0.0.1:8090/api/us")
LOOPBACK_EU = ("http://[::1]:8090/accounts/eu", "http://[::1]:8090/api/eu")


@pytest.mark.parametrize(
    "make", [lambda: httpx.Client(verify=False), lambda: httpx.AsyncClient(verify=False)]
)
@pytest.mark.parametrize(
    "entries",
    [
        pytest.param({"us": ZOHO_US}, id="zoho-hosts"),
        pytest.param(
            {"us": LOOPBACK_US, "eu": ("https://accounts.zoho.eu", LOOPBACK_EU[1])},
            id="mixed-accounts",
        ),
        pytest.param({"us": (LOOPBACK_US[0], "https://www.zohoapis.com")}, id="mixed-api-domain"),
    ],
)
def test_s10_file_table_with_https_hosts_refuses_a_non_verifying_client(
    tmp_path, make, entries
) -> None:
    # A table from a file is not a sandbox's because of where it came from (SECURITY 50).
    table = _table_file(tmp_path, entries)
    assert not table.loopback_only
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        _client_with(make(), table)


@pytest.mark.parametrize(
    "make", [lambda: httpx.Client(verify=False), lambda: httpx.AsyncClient(verify=False)]
)
def test_s10_file_table_all_on_loopback_http_allows_a_non_verifying_client(tmp_path, make) -> None:
    table = _table_file(tmp_path, {"us": LOOPBACK_US, "eu": LOOPBACK_EU})
    assert table.loopback_only
    assert isinstance(_client_with(make(), table), OAuthClient | AsyncOAuthClient)


def test_s50_mapping_with_zoho_hosts_is_no_sandbox() -> None:
    zoho = DataCenterTable.builtin().to_mapping()
    table = DataCenterTable.from_mapping(zoho)
    assert table.to_mapping() == zoho
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        _client_with(httpx.Client(verify=False), table)


# -- against the sandbox ------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("which", ["refresh_token", "access_token"])
async def test_revoke_in_the_form_body_is_accepted_by_the_sandbox(which: str) -> None:
    """The sandbox (Zoho's rules) revokes a token sent in the body; nothing rides in the URL."""
    base = "http://127.0.0.1:9"
    app = create_sandbox_app(base_url=base)
    world = app.state.world
    table = DataCenterTable.from_mapping(datacenters_table(base))
    alice = world.directory.user_by_email("alice@acme.example")
    code = world.accounts.create_code(
        client_id="1000.CLIENTID",
        redirect_uri=REDIRECT,
        scopes=SCOPES,
        user_id=alice.user_id,
        location="us",
        challenge=None,
        challenge_method=None,
        offline=True,
        force_consent=True,
    )
    try:
        async with AsyncOAuthClient(
            client_id="1000.CLIENTID",
            client_secret=SecretStr(SECRET),
            redirect_uri=REDIRECT,
            scopes=SCOPES,
            datacenters=table,
            http=httpx.AsyncClient(transport=httpx.ASGITransport(app=app)),
        ) as client:
            tokens = await client.exchange_code("us", code, "")
            token = tokens.refresh_token if which == "refresh_token" else tokens.access_token
            assert token
            await client.revoke("us", token)
            with pytest.raises(InvalidGrantError):
                await client.revoke("us", token)  # Zoho: 400, it no longer knows the token
        assert world.authenticate(tokens.access_token) is None
        entries = world.journal.entries("accounts.revoke")
        assert [entry.query for entry in entries] == [[], []]
        assert all(entry.form == [("token", token)] for entry in entries)
        assert all(token not in entry.path for entry in entries)
    finally:
        world.close()
