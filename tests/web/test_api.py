"""Integration tests of the JSON API (SECURITY 37, 38, 42): the service app with a real Vault on
SQLite and the real sandbox app playing Zoho, in process."""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event

ROUTES = [
    ("POST", "/api/connect-sessions", {"owner": "t"}),
    ("GET", "/api/connections", None),
    ("GET", "/api/connections/unknown-id", None),
    ("POST", "/api/connections/unknown-id/access-token", None),
    ("DELETE", "/api/connections/unknown-id", None),
]


def _connected(harness, email: str = "bob@bluebird.example", owner: str = "tenant-1") -> str:
    assert harness.connect(owner=owner, email=email).status_code == 200
    return str(harness.vault.list_connections(owner=owner)[0].id)


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"}, {"Authorization": ""}],
)
@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_s37_every_route_needs_the_api_key(harness, method, path, body, headers) -> None:
    response = harness.web.request(method, path, json=body, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"


def test_s37_key_checked_before_the_body_is_parsed(harness) -> None:
    response = harness.web.post(
        "/api/connect-sessions",
        content=b"{not json",
        headers={"Content-Type": "application/json", "Authorization": "Bearer nope"},
    )
    assert response.status_code == 401
    with_key = harness.api(
        "POST",
        "/api/connect-sessions",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert with_key.status_code == 422
    assert set(with_key.json()) == {"error", "message"}


def _wrong_keys(key: str) -> list[str]:
    """Keys of every length from 0 to twice the real one's, and the near misses."""
    wrong = ["k" * length for length in range(2 * len(key) + 2)]
    wrong += [key[:-1], key + "x", key[1:], "x" + key, key.upper(), key[:16], key * 2]
    wrong += [key[:-1] + chr(ord(key[-1]) ^ 1), key + " x", "x" * 5000]
    return wrong


def test_s37_s47_wrong_keys_of_every_length_are_refused(harness) -> None:
    for wrong in _wrong_keys(harness.api_key):
        response = harness.web.get("/api/connections", headers={"Authorization": f"Bearer {wrong}"})
        assert response.status_code == 401, repr(wrong)
    assert harness.api("GET", "/api/connections").status_code == 200


def test_s37_s47_keys_compared_as_digests_of_one_length(harness, monkeypatch) -> None:
    """``compare_digest`` is constant-time only between equal lengths: given inputs of different
    lengths it returns at once, telling the key's length. Both sides must reach it as digests of
    one fixed length, and the configured key must never reach it as it is."""
    import hmac

    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((bytes(a), bytes(b)))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    key = harness.api_key.encode()
    for wrong in [*_wrong_keys(harness.api_key), harness.api_key]:
        calls.clear()
        harness.web.get("/api/connections", headers={"Authorization": f"Bearer {wrong}"})
        assert calls, "the key was not compared with compare_digest"
        for a, b in calls:
            assert len(a) == len(b) == 32, (len(a), len(b), repr(wrong))
            assert key not in (a, b) and wrong.encode() not in (a, b)


@pytest.mark.parametrize("length", [0, 1, 16, 31])
def test_s47_an_api_key_under_32_characters_stops_the_start_up(web_settings, length) -> None:
    from pydantic import SecretStr

    from zoho_invoice import ConfigurationError
    from zoho_invoice.web import api_router, create_app

    short = SecretStr(("~#" * 16)[:length])  # characters no message contains
    for build in (create_app, api_router):
        with pytest.raises(ConfigurationError, match="ZOHO_API_KEY") as refused:
            build(web_settings(api_key=short))
        message = str(refused.value)
        assert "secrets.token_urlsafe(32)" in message
        assert length == 0 or short.get_secret_value() not in message
    assert create_app(web_settings(api_key=SecretStr("k" * 32)))


def test_connect_session_answer(harness) -> None:
    response = harness.api("POST", "/api/connect-sessions", json={"owner": "tenant-9"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"connect_url", "expires_at"}
    assert body["connect_url"].startswith("http://testserver/connect/")


def test_connections_list_get_token_and_delete(harness) -> None:
    conn_id = _connected(harness)
    _connected(harness, email="franz@fischer.example", owner="tenant-2")
    listed = harness.api("GET", "/api/connections", params={"owner": "tenant-1"}).json()
    assert [c["id"] for c in listed["connections"]] == [conn_id]
    assert len(harness.api("GET", "/api/connections").json()["connections"]) == 2
    one = harness.api("GET", f"/api/connections/{conn_id}").json()
    assert one["owner"] == "tenant-1"
    assert one["location"] == "us"
    assert one["status"] == "active"
    assert one["organization_id"]
    assert "access_token" not in one and "refresh_token" not in one

    token = harness.api("POST", f"/api/connections/{conn_id}/access-token")
    assert token.status_code == 200
    body = token.json()
    assert body["token_type"] == "Zoho-oauthtoken"
    assert body["api_domain"] == "http://127.0.0.1:9/api/us"
    assert harness.world.authenticate(body["access_token"]) is not None

    refresh_token = harness.vault.load_tokens(conn_id).refresh_token
    deleted = harness.api("DELETE", f"/api/connections/{conn_id}")
    assert deleted.status_code == 204
    # The revoke reached the sandbox at the connection's own DC (the background task ran).
    deadline = time.monotonic() + 5
    while not harness.world.journal.entries("accounts.revoke") and time.monotonic() < deadline:
        time.sleep(0.05)
    [revoke] = harness.world.journal.entries("accounts.revoke")
    assert revoke.path.startswith("/accounts/us/")
    assert dict(revoke.form)["token"] == refresh_token and revoke.query == []
    assert harness.world.authenticate(body["access_token"]) is None
    assert harness.api("GET", f"/api/connections/{conn_id}").json()["status"] == "revoked"
    again = harness.api("POST", f"/api/connections/{conn_id}/access-token")
    assert again.status_code == 409
    assert again.json()["error"] == "needs_reauth"


def test_unknown_connection_is_404(harness) -> None:
    for method, path in [
        ("GET", "/api/connections/nope"),
        ("POST", "/api/connections/nope/access-token"),
        ("DELETE", "/api/connections/nope"),
    ]:
        response = harness.api(method, path)
        assert response.status_code == 404
        assert response.json() == {"error": "not_found", "message": "no connection with that id"}


def test_needs_reauth_is_409(harness) -> None:
    conn_id = _connected(harness)
    harness.vault.set_status(conn_id, "needs_reauth", reason="invalid_code")
    response = harness.api("POST", f"/api/connections/{conn_id}/access-token")
    assert response.status_code == 409
    assert response.json()["error"] == "needs_reauth"


def test_validation_errors_have_the_error_shape(harness) -> None:
    response = harness.api("POST", "/api/connect-sessions", json={"owner": ""})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"
    assert "owner" in response.json()["message"]


def test_s42_database_unavailable_then_recovers(harness) -> None:
    engine = harness.vault.engine

    def refuse(*args, **kwargs):
        raise sqlite3.OperationalError("unable to open database file")

    event.listen(engine, "do_connect", refuse)
    engine.dispose()
    try:
        health = harness.web.get("/healthz")
        assert health.status_code == 503
        api = harness.api("GET", "/api/connections")
        assert api.status_code == 503
        assert api.json()["error"] == "unavailable"
        assert "database" in api.json()["message"]
        page = harness.web.get(harness.connect_url_unchecked())
        assert page.status_code == 503
    finally:
        event.remove(engine, "do_connect", refuse)
    assert harness.web.get("/healthz").status_code == 200
    assert harness.api("GET", "/api/connections").status_code == 200


def test_s38_no_secret_in_logs_or_pages(harness, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    authorize = harness.start()
    state = harness.params(authorize)["state"]
    url = harness.consent(authorize, "bob@bluebird.example")
    code = harness.params(url)["code"]
    pages = [harness.callback(url).text]
    conn_id = harness.vault.list_connections()[0].id
    tokens = harness.vault.load_tokens(conn_id)
    pages.append(harness.api("POST", f"/api/connections/{conn_id}/access-token").text)
    # Failures: a replay, a forged accounts server, a CR/LF-laden parameter.
    pages.append(harness.callback(url).text)
    pages.append(harness.web.get("/callback?state=a%0d%0aFAKE&code=b").text)
    pages.append(harness.api("DELETE", f"/api/connections/{conn_id}").text)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secrets_ = [state, code, tokens.refresh_token, harness.api_key, harness.client_secret]
    for secret in secrets_:
        assert secret and secret not in logged
        for text in pages[2:]:
            assert secret not in text
    assert "\r\nFAKE" not in logged and "\nFAKE" not in logged


UNMATCHED = [
    ("GET", "/api/nope"),
    ("GET", "/api/connections/x/y/z"),
    ("GET", "/api"),
    ("PUT", "/api/connections"),  # a known path, a wrong method
    ("GET", "/api/connect-sessions"),
    ("POST", "/api/connections/some-id"),
]


@pytest.mark.parametrize(("method", "path"), UNMATCHED)
def test_s37_unknown_paths_and_wrong_methods_need_the_key_first(harness, method, path) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = harness.web.request(method, path, headers=headers)
        assert response.status_code == 401, (method, path, response.status_code)
        assert response.json()["error"] == "unauthorized"


def test_s37_with_the_key_unknown_is_404_and_wrong_method_405(harness) -> None:
    assert harness.api("GET", "/api/nope").status_code == 404
    assert harness.api("GET", "/api/nope").json()["error"] == "not_found"
    wrong = harness.api("PUT", "/api/connections")
    assert wrong.status_code == 405
    assert wrong.headers["allow"] == "GET"
    assert harness.api("GET", "/api/connect-sessions").status_code == 405
    assert harness.api("GET", "/api/connections").status_code == 200


def test_access_token_that_cannot_be_opened_is_a_clear_500(harness, caplog) -> None:
    from sqlalchemy import text

    cid = _connected(harness)
    with harness.vault.engine.begin() as db:
        # A ciphertext moved to another field no longer opens (AAD binds row and field).
        db.execute(
            text("UPDATE connections SET access_token_sealed = refresh_token_sealed WHERE id = :i"),
            {"i": cid},
        )
    with caplog.at_level(logging.INFO):
        response = harness.api("POST", f"/api/connections/{cid}/access-token")
    assert response.status_code == 500
    body = response.json()
    assert body["error"] == "encryption_keys"
    assert "ZOHO_ENCRYPTION_KEYS" in body["message"]
    assert "Traceback" not in caplog.text
    assert harness.web.get("/healthz").status_code == 200


def test_s47_every_api_answer_says_no_store(harness) -> None:
    """Tokens, ids and errors alike must not be kept by a proxy or a browser cache."""
    conn_id = _connected(harness)
    too_big = b'{"owner": "t", "pad": "' + b"x" * (1024 * 1024) + b'"}'
    answers = {
        "401": harness.web.get("/api/connections"),
        "401 wrong key": harness.web.post(
            f"/api/connections/{conn_id}/access-token", headers={"Authorization": "Bearer x"}
        ),
        "200 list": harness.api("GET", "/api/connections"),
        "200 token": harness.api("POST", f"/api/connections/{conn_id}/access-token"),
        "201": harness.api("POST", "/api/connect-sessions", json={"owner": "t"}),
        "404": harness.api("GET", "/api/connections/unknown-id"),
        "404 route": harness.api("GET", "/api/nowhere"),
        "405": harness.api("PUT", "/api/connections"),
        "422": harness.api("POST", "/api/connect-sessions", json={}),
        "413": harness.api(
            "POST",
            "/api/connect-sessions",
            content=too_big,
            headers={"Content-Type": "application/json"},
        ),
    }
    for name, answer in answers.items():
        assert answer.status_code == int(name[:3]), (name, answer.text)
        assert answer.headers.get("cache-control") == "no-store", name


def _chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    yield b'{"owner": "t", "pad": "'
    sent = 0
    while sent < total:
        yield b"x" * size
        sent += size
    yield b'"}'


@pytest.mark.parametrize("chunked", [False, True])
def test_s47_a_body_over_1_mb_is_refused_with_413(harness, chunked: bool) -> None:
    total = 8 * 1024 * 1024
    body = _chunks(total) if chunked else b"".join(_chunks(total))
    answer = harness.api(
        "POST", "/api/connect-sessions", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 413
    assert answer.json()["error"] == "too_large" and set(answer.json()) == {"error", "message"}
    # The browser routes and the rest of the service too; just under the limit is served.
    assert harness.web.post("/healthz", content=b"x" * (1024 * 1024 + 1)).status_code == 413
    small = harness.api("POST", "/api/connect-sessions", json={"owner": "t", "pad": "x" * 500_000})
    assert small.status_code == 201
