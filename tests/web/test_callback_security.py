"""Integration tests of the connect flow's defences (SECURITY 1-8, 12-16, 40): the service app
with a real Vault on SQLite and the real sandbox app playing Zoho, in process. Each refusal is
checked through the sandbox journal: nothing reached Zoho's token endpoint."""

from __future__ import annotations

import base64
from urllib.parse import urlencode, urlsplit

import pytest
from starlette.testclient import TestClient

from web._harness import Harness
from zoho_invoice._http import httpx

EU_USER = "franz@fischer.example"


def _callback_with(harness: Harness, url: str, **replace: str | None) -> httpx.Response:
    params = harness.params(url)
    for key, value in replace.items():
        key = key.replace("_", "-") if key == "accounts_server" else key
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return harness.web.get("/callback?" + urlencode(params), follow_redirects=False)


def _refused(response, harness) -> None:
    assert response.status_code == 400, response.text
    assert "text/html" in response.headers["content-type"]
    assert harness.token_requests() == []
    assert harness.vault.list_connections() == []


def test_s01_callback_without_binding_cookie(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    harness.web.cookies.clear()
    response = harness.callback(url)
    _refused(response, harness)
    assert "browser" in response.text


def test_s01_unknown_state(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    response = _callback_with(harness, url, state="x" * 43)
    _refused(response, harness)


def test_s02_state_from_another_browser(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    with TestClient(harness.app, base_url="http://testserver") as browser_b:
        # Browser B has its own binding cookie from a flow of its own.
        response = browser_b.post(
            "/api/connect-sessions",
            json={"owner": "attacker"},
            headers={"Authorization": f"Bearer {harness.api_key}"},
        )
        b_start = browser_b.get(response.json()["connect_url"], follow_redirects=False)
        b_binding = harness.binding_for(b_start.headers["location"], browser_b)
        assert b_binding
        # B presents its own binding under the name of A's flow (the best B can do).
        browser_b.cookies.set(harness.binding_cookie_for(url), b_binding, path="/callback")
        parts = urlsplit(url)
        response = browser_b.get(parts.path + "?" + parts.query, follow_redirects=False)
    _refused(response, harness)
    # And the victim's flow was not consumed by B's attempt: A can still finish.
    assert harness.callback(url).status_code == 200
    assert [c.owner for c in harness.vault.list_connections()] == ["tenant-1"]


def test_s03_replay_after_success(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    cookie = harness.binding_for(url)
    assert harness.callback(url).status_code == 200
    harness.web.cookies.set(harness.binding_cookie_for(url), cookie, path="/callback")
    replay = harness.callback(url)
    assert replay.status_code == 400
    assert len(harness.token_requests()) == 1


def test_s04_state_older_than_ten_minutes(timed_harness, clock) -> None:
    harness = timed_harness
    url = harness.consent(harness.start(), "bob@bluebird.example")
    clock.advance(601)
    response = harness.callback(url)
    _refused(response, harness)
    assert "start again" in response.text.lower() or "expired" in response.text.lower()
    assert harness.vault.purge_expired() >= 1


def test_s05_state_is_long_random_and_opaque(harness) -> None:
    authorize = harness.start(owner="tenant-with-a-name")
    state = harness.params(authorize)["state"]
    raw = base64.urlsafe_b64decode(state + "=" * (-len(state) % 4))
    assert len(raw) * 8 >= 256
    assert "tenant" not in state
    other = harness.params(harness.start(owner="tenant-with-a-name"))["state"]
    assert other != state


def test_s05_tampered_state(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    state = harness.params(url)["state"]
    tampered = state[:-1] + ("A" if state[-1] != "A" else "B")
    _refused(_callback_with(harness, url, state=tampered), harness)


@pytest.mark.parametrize("name", ["state", "code", "location", "accounts-server"])
def test_s06_parameter_given_twice(harness, name: str) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    params = list(harness.params(url).items())
    value = dict(params)[name]
    response = harness.web.get(
        "/callback?" + urlencode([*params, (name, value)]), follow_redirects=False
    )
    _refused(response, harness)
    assert "twice" in response.text


EVIL_ACCOUNTS_SERVERS = [
    "https://evil.example",
    "http://127.0.0.1:9/accounts/us/",  # trailing slash
    "http://127.0.0.1:9/accounts/eu",  # another DC's server
    "http://127.0.0.1:9/ACCOUNTS/us",  # case
    "http://127.0.0.1:9/accounts/us.evil.com",
    "http://evil@127.0.0.1:9/accounts/us",
    "http://127.0.0.1:10/accounts/us",  # port
    "http://localhost:9/accounts/us",
    "https://accounts.zoho.com",
    "https://accounts.zoho.com.evil.com",
    "",
]


@pytest.mark.parametrize("server", EVIL_ACCOUNTS_SERVERS)
def test_s07_accounts_server_not_in_table(harness, server: str) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    response = _callback_with(harness, url, accounts_server=server)
    _refused(response, harness)
    assert "data centre" in response.text
    # The client secret never left: no request of any kind reached the token endpoint.
    assert not any(
        harness.client_secret in str(e.to_json()) for e in harness.world.journal.entries()
    )


def test_s07_absent_accounts_server_is_refused(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    response = _callback_with(harness, url, accounts_server=None)
    _refused(response, harness)
    assert "data centre" in response.text


@pytest.mark.parametrize("location", [None, "", "xx", "US", "eu "])
def test_s08_unknown_or_missing_location(harness, location: str | None) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    _refused(_callback_with(harness, url, location=location), harness)


def test_s08_connect_session_with_unknown_location(harness) -> None:
    response = harness.api("POST", "/api/connect-sessions", json={"owner": "t", "location": "zz"})
    assert response.status_code == 400
    assert response.json()["error"] == "unknown_location"


def test_s07_eu_user_redirected_from_us_connects_at_eu(harness) -> None:
    url = harness.consent(harness.start(), EU_USER)
    assert harness.params(url)["location"] == "eu"
    response = harness.callback(url)
    assert response.status_code == 200, response.text
    [entry] = harness.token_requests()
    assert entry.path.startswith("/accounts/eu/")
    [conn] = harness.vault.list_connections()
    assert conn.location == "eu"
    assert conn.api_domain == "http://127.0.0.1:9/api/eu"


def test_s12_declined_consent_is_a_clear_escaped_page(harness) -> None:
    authorize = harness.start()
    url = harness.consent(authorize, "bob@bluebird.example", decision="deny")
    response = harness.callback(url)
    assert response.status_code == 400
    # access_denied is also Zoho's code throttle: the page does not claim the user declined.
    assert "Zoho did not authorize" in response.text and "You declined" not in response.text
    assert "limiting sign-ins" in response.text
    # A fresh flow whose answer carries a hostile description: shown escaped.
    url = harness.consent(harness.start(), "bob@bluebird.example", decision="deny")
    hostile = _callback_with(
        harness, url, error="access_denied", error_description="<script>alert(1)</script>"
    )
    assert hostile.status_code == 400
    assert "Zoho did not authorize" in hostile.text
    assert "<script>alert(1)</script>" not in hostile.text
    assert "&lt;script&gt;" in hostile.text
    assert harness.token_requests() == []
    assert harness.vault.list_connections() == []


def test_s12_declined_page_only_for_the_browser_that_started(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example", decision="deny")
    cookie = harness.binding_for(url)
    harness.web.cookies.clear()
    crafted = _callback_with(
        harness, url, error="access_denied", error_description="Call +1-555 for support"
    )
    assert crafted.status_code == 400
    assert "did not authorize" not in crafted.text and "555" not in crafted.text
    assert "not valid" in crafted.text
    # With a cookie but an unknown state: the same generic page.
    forged = url.replace(harness.params(url)["state"], "x" * 43)
    harness.web.cookies.set(harness.binding_cookie_for(forged), cookie, path="/callback")
    unknown = _callback_with(harness, url, state="x" * 43, error_description="Call +1-555")
    assert "did not authorize" not in unknown.text and "not valid" in unknown.text


def test_s12_declined_consumes_the_state(harness) -> None:
    authorize = harness.start()
    cookie = harness.binding_for(authorize)
    approved = harness.consent(authorize, "bob@bluebird.example")
    declined = _callback_with(harness, approved, error="access_denied", code=None)
    assert "Zoho did not authorize" in declined.text
    # The same state can no longer finish a connection, even with a valid code.
    harness.web.cookies.set(harness.binding_cookie_for(approved), cookie, path="/callback")
    assert harness.callback(approved).status_code == 400
    assert harness.token_requests() == []
    assert harness.vault.list_connections() == []


def test_s13_token_parameters_on_the_callback_are_ignored(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    injected = "1000.aaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbb"
    response = harness.web.get(
        urlsplit(url).path
        + "?"
        + urlsplit(url).query
        + "&"
        + urlencode({"access_token": injected, "refresh_token": injected}),
        follow_redirects=False,
    )
    assert response.status_code == 200
    [conn] = harness.vault.list_connections()
    tokens = harness.vault.load_tokens(conn.id)
    assert injected not in (tokens.access_token, tokens.refresh_token)
    assert harness.world.authenticate(tokens.access_token) is not None


def test_s14_owner_comes_only_from_the_server_side_session(harness) -> None:
    url = harness.consent(harness.start(owner="tenant-1"), "bob@bluebird.example")
    response = harness.web.get(
        "/callback?" + urlsplit(url).query + "&" + urlencode({"owner": "tenant-evil"}),
        follow_redirects=False,
    )
    assert response.status_code == 200
    assert [c.owner for c in harness.vault.list_connections()] == ["tenant-1"]
    assert harness.vault.list_connections(owner="tenant-evil") == []


def test_s15_return_url_must_be_allow_listed(harness) -> None:
    for evil in (
        "https://evil.example/",
        "https://app.example.com.evil.example/",
        "https://app.example.com@evil.example/",
        "javascript:alert(1)",
        "//evil.example/",
    ):
        response = harness.api(
            "POST", "/api/connect-sessions", json={"owner": "t", "return_url": evil}
        )
        assert response.status_code == 400, evil
        assert response.json()["error"] == "return_url_not_allowed"


def test_s15_allow_listed_return_url_and_next_ignored(harness) -> None:
    authorize = harness.start(return_url="https://app.example.com/settings/zoho?tab=1")
    url = harness.consent(authorize, "bob@bluebird.example")
    response = harness.web.get(
        "/callback?" + urlsplit(url).query + "&next=https%3A%2F%2Fevil.example",
        follow_redirects=False,
    )
    assert response.status_code == 303
    target = response.headers["location"]
    assert target.startswith("https://app.example.com/settings/zoho?")
    [conn] = harness.vault.list_connections()
    assert harness.params(target) == {
        "tab": "1",
        "connection_id": conn.id,
        "status": "connected",
    }


def _assert_security_headers(response) -> None:
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_s16_headers_and_binding_cookie(harness) -> None:
    connect_url = harness.connect_url()
    start = harness.web.get(connect_url, follow_redirects=False)
    _assert_security_headers(start)
    cookie = start.headers["set-cookie"]
    # One cookie per flow, named after a hash of its state (SECURITY 46).
    assert cookie.startswith(harness.binding_cookie_for(start.headers["location"]) + "=")
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "path=/callback" in lowered
    assert "max-age=600" in lowered
    assert "secure" not in lowered  # plain http on loopback works
    url = harness.consent(start.headers["location"], "bob@bluebird.example")
    done = harness.callback(url)
    _assert_security_headers(done)
    # The cookie is cleared once used.
    assert "max-age=0" in done.headers["set-cookie"].lower()
    assert harness.binding_for(url) is None
    failed = harness.web.get("/callback?state=x&code=y", follow_redirects=False)
    _assert_security_headers(failed)


def test_s16_cookie_secure_over_https(https_harness) -> None:
    harness = https_harness
    start = harness.web.get(harness.connect_url(), follow_redirects=False)
    assert harness.connect_url().startswith("https://testserver/connect/")
    assert "secure" in start.headers["set-cookie"].lower()


@pytest.mark.parametrize("size", [3 * 1024, 60 * 1024])
def test_s40_over_long_parameters(harness, size: int) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example")
    response = _callback_with(harness, url, state="A" * size)
    assert response.status_code in (400, 414)
    assert harness.token_requests() == []
    assert len(response.content) < 10_000
    assert harness.web.get("/healthz").status_code == 200


def test_s40_over_long_connect_token(harness) -> None:
    response = harness.web.get("/connect/" + "a" * 5000, follow_redirects=False)
    assert response.status_code == 400


def test_s03_concurrent_double_callback_exchanges_once(harness) -> None:
    import threading

    url = harness.consent(harness.start(), "bob@bluebird.example")
    cookie = harness.binding_for(url)
    name = harness.binding_cookie_for(url)
    parts = urlsplit(url)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def finish() -> None:
        with TestClient(harness.app, base_url="http://testserver") as browser:
            browser.cookies.set(name, cookie, path="/callback")
            barrier.wait()
            response = browser.get(parts.path + "?" + parts.query, follow_redirects=False)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=finish) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 400]
    assert len(harness.token_requests()) == 1
    assert len(harness.vault.list_connections()) == 1


def test_s03_replay_after_a_failed_exchange_is_refused(harness) -> None:
    from zoho_invoice_sandbox import Fault

    url = harness.consent(harness.start(), "bob@bluebird.example")
    cookie = harness.binding_for(url)
    harness.world.faults.add("accounts.token", Fault(status=503, body=None))
    assert harness.callback(url).status_code == 400
    harness.web.cookies.set(harness.binding_cookie_for(url), cookie, path="/callback")
    replay = harness.callback(url)
    assert replay.status_code == 400
    assert len(harness.token_requests()) == 1
    assert harness.vault.list_connections() == []


def test_s04_expired_states_are_purged_when_a_new_session_starts(timed_harness, clock) -> None:
    harness = timed_harness
    harness.start()
    harness.start()
    clock.advance(601)
    harness.connect_url()  # the app starts another connection: old rows go without a worker
    assert harness.vault.purge_expired() == 0


def test_s12_other_errors_keep_the_declined_page_with_zohos_word(harness) -> None:
    url = harness.consent(harness.start(), "bob@bluebird.example", decision="deny")
    answer = _callback_with(harness, url, error="unauthorized_client")
    assert answer.status_code == 400
    assert "You declined" in answer.text and "unauthorized_client" in answer.text
    assert "limiting sign-ins" not in answer.text


def test_s12_zohos_code_throttle_is_not_called_a_decline(harness) -> None:
    """Zoho issues a client 10 authorization codes in 10 minutes; the 11th flow comes back
    with ``error=access_denied``, which must not read as the user's refusal."""
    for number in range(10):
        assert harness.connect(f"tenant-{number}").status_code == 200
    exchanges = len(harness.token_requests())
    authorize = harness.start("tenant-late")
    url = harness.consent(authorize, "bob@bluebird.example")  # the user approves ...
    assert harness.params(url)["error"] == "access_denied"  # ... Zoho refuses all the same
    answer = harness.callback(url)
    assert 400 <= answer.status_code < 500
    assert "You declined" not in answer.text
    assert "Zoho did not authorize" in answer.text and "limiting sign-ins" in answer.text
    assert "wait a few minutes" in answer.text
    assert harness.vault.list_connections(owner="tenant-late") == []
    assert len(harness.token_requests()) == exchanges  # no code, no exchange
