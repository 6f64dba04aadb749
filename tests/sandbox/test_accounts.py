"""Integration tests: the sandbox's Zoho Accounts, driven over ASGITransport with plain HTTP.

The consent flow (us, eu via the us redirect, cn), the token endpoint's rules and limits, and
revocation, with an injected clock.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import anyio
import pytest
from starlette.applications import Starlette

from support import Clock
from zoho_invoice._http import httpx
from zoho_invoice_sandbox import AsyncSandboxControl, SandboxWorld, create_sandbox_app

pytestmark = pytest.mark.anyio

BASE = "http://sandbox.test"
CLIENT = "1000.TESTCLIENT"
SECRET = "s3cr3t-value"
REDIRECT = "http://app.test/zoho/callback"
SCOPES = "ZohoInvoice.invoices.READ,ZohoInvoice.settings.READ"
ALICE = "alice@acme.example"  # us
ELENA = "elena@eurotech.example"  # eu
CHEN = "chen@chen-electronics.example"  # cn


@pytest.fixture
def clock() -> Clock:
    return Clock(1_800_000_000.0)


@pytest.fixture
def app(clock: Clock) -> Iterator[Starlette]:
    app = create_sandbox_app(base_url=BASE, clock=clock)
    yield app
    app.state.world.close()


@pytest.fixture
def world(app: Starlette) -> SandboxWorld:
    world: SandboxWorld = app.state.world
    return world


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        yield client


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def auth_params(**overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "client_id": CLIENT,
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": SCOPES,
        "access_type": "offline",
        "prompt": "consent",
        "state": "state-123",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def user_id(world: SandboxWorld, email: str) -> str:
    user = world.directory.user_by_email(email)
    assert user is not None
    return user.user_id


def query_of(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def approve(
    client: httpx.AsyncClient,
    world: SandboxWorld,
    email: str,
    *,
    start: str = "us",
    **overrides: str | None,
) -> dict[str, str]:
    """Run the consent flow like a browser would; return the callback's query parameters."""
    url = f"{BASE}/accounts/{start}/oauth/v2/auth"
    page = await client.get(url, params=auth_params(**overrides))
    assert page.status_code == 200, page.text
    answer = await client.post(
        str(page.url), data={"user_id": user_id(world, email), "decision": "approve"}
    )
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    if location.startswith(BASE + "/accounts/"):
        page = await client.get(location)
        assert page.status_code == 200
        answer = await client.post(
            location, data={"user_id": user_id(world, email), "decision": "approve"}
        )
        assert answer.status_code == 302, answer.text
        location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return {k: v[0] for k, v in query_of(location).items()}


async def token(
    client: httpx.AsyncClient, location: str, *, in_query: bool = False, **params: str
) -> dict[str, Any]:
    url = f"/accounts/{location}/oauth/v2/token"
    response = (
        await client.post(url, params=params) if in_query else await client.post(url, data=params)
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def exchange(
    client: httpx.AsyncClient, location: str, code: str, **extra: str
) -> dict[str, Any]:
    params = {
        "grant_type": "authorization_code",
        "client_id": CLIENT,
        "client_secret": SECRET,
        "redirect_uri": REDIRECT,
        "code": code,
    }
    params.update(extra)
    return await token(client, location, in_query=False, **params)


async def refresh(client: httpx.AsyncClient, location: str, refresh_token: str) -> dict[str, Any]:
    return await token(
        client,
        location,
        grant_type="refresh_token",
        client_id=CLIENT,
        client_secret=SECRET,
        refresh_token=refresh_token,
    )


async def connect(
    client: httpx.AsyncClient,
    world: SandboxWorld,
    email: str = ALICE,
    *,
    start: str = "us",
    **overrides: str | None,
) -> dict[str, Any]:
    callback = await approve(client, world, email, start=start, **overrides)
    return await exchange(client, callback["location"], callback["code"])


# -- the consent flow -----------------------------------------------------------------------------


async def test_consent_page_shows_scopes_and_users_escaped(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    page = await client.get(
        "/accounts/us/oauth/v2/auth", params=auth_params(client_id="<b>evil</b>")
    )
    assert page.status_code == 200
    assert "ZohoInvoice.invoices.READ" in page.text and "ZohoInvoice.settings.READ" in page.text
    assert "&lt;b&gt;evil&lt;/b&gt;" in page.text and "<b>evil</b>" not in page.text
    assert ALICE in page.text and ELENA in page.text
    assert CHEN not in page.text  # China's users sign in at the cn server only
    assert 'name="decision" value="approve"' in page.text
    assert 'name="decision" value="deny"' in page.text
    assert page.headers["cache-control"] == "no-store"


async def test_us_user_gets_code_tokens_and_refreshes(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    callback = await approve(client, world, ALICE)
    assert callback["state"] == "state-123"
    assert callback["location"] == "us"
    assert callback["accounts-server"] == f"{BASE}/accounts/us"
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", callback["code"])

    tokens = await exchange(client, "us", callback["code"])
    assert set(tokens) == {
        "access_token",
        "refresh_token",
        "api_domain",
        "token_type",
        "expires_in",
    }
    assert tokens["api_domain"] == f"{BASE}/api/us"
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 3600
    assert re.fullmatch(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}", tokens["access_token"])
    grant = world.authenticate(tokens["access_token"])
    assert grant is not None
    assert grant.user_id == user_id(world, ALICE)
    assert grant.location == "us"
    assert grant.client_id == CLIENT
    assert grant.scopes == frozenset(SCOPES.split(","))

    refreshed = await refresh(client, "us", tokens["refresh_token"])
    assert "refresh_token" not in refreshed  # no rotation
    assert refreshed["access_token"] != tokens["access_token"]
    assert world.authenticate(refreshed["access_token"]) is not None
    assert world.authenticate(tokens["access_token"]) is not None  # the old one stays live


async def test_eu_user_is_sent_from_us_to_eu_which_issues_the_code(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    page = await client.get("/accounts/us/oauth/v2/auth", params=auth_params())
    answer = await client.post(
        str(page.url), data={"user_id": user_id(world, ELENA), "decision": "approve"}
    )
    assert answer.status_code == 302
    target = answer.headers["location"]
    assert target.startswith(f"{BASE}/accounts/eu/oauth/v2/auth?")
    query = query_of(target)
    assert query["login_hint"] == [ELENA]
    assert query["state"] == ["state-123"] and query["scope"] == [SCOPES]

    eu_page = await client.get(target)
    assert eu_page.status_code == 200
    assert re.search(rf'value="{user_id(world, ELENA)}"\s+checked', eu_page.text)
    assert ALICE not in eu_page.text  # the eu server knows only eu users
    final = await client.post(
        target, data={"user_id": user_id(world, ELENA), "decision": "approve"}
    )
    callback = {k: v[0] for k, v in query_of(final.headers["location"]).items()}
    assert callback["location"] == "eu"
    assert callback["accounts-server"] == f"{BASE}/accounts/eu"
    assert (
        f"accounts-server={BASE.replace(':', '%3A').replace('/', '%2F')}"
        in (final.headers["location"])
    )

    # The code belongs to eu: the us server does not know this client's code.
    assert (await exchange(client, "us", callback["code"])) == {"error": "invalid_client"}
    tokens = await exchange(client, "eu", callback["code"])
    assert tokens["api_domain"] == f"{BASE}/api/eu"
    grant = world.authenticate(tokens["access_token"])
    assert grant is not None and grant.location == "eu"


async def test_cn_user_is_unknown_at_us_and_signs_in_at_cn(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    page = await client.get("/accounts/us/oauth/v2/auth", params=auth_params())
    refused = await client.post(
        str(page.url), data={"user_id": user_id(world, CHEN), "decision": "approve"}
    )
    assert refused.status_code == 400
    assert "not known at this server" in refused.text

    callback = await approve(client, world, CHEN, start="cn")
    assert callback["location"] == "cn"
    tokens = await exchange(client, "cn", callback["code"])
    assert tokens["api_domain"] == f"{BASE}/api/cn"


async def test_deny_redirects_with_access_denied_and_state(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    page = await client.get("/accounts/us/oauth/v2/auth", params=auth_params())
    answer = await client.post(
        str(page.url), data={"user_id": user_id(world, ALICE), "decision": "deny"}
    )
    assert answer.status_code == 302
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert query_of(location) == {"error": ["access_denied"], "state": ["state-123"]}


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"scope": "ZohoInvoice.invoices.READ ZohoInvoice.settings.READ"}, "invalid_scope"),
        ({"scope": None}, "invalid_scope"),
        ({"redirect_uri": None}, "invalid_redirect_uri"),
        ({"redirect_uri": "javascript:alert(1)"}, "invalid_redirect_uri"),
        ({"redirect_uri": "http://app.test/cb#frag"}, "invalid_redirect_uri"),
        ({"access_type": "forever"}, "invalid_request"),
        ({"code_challenge": "a" * 43, "code_challenge_method": "MD5"}, "invalid_request"),
        ({"code_challenge": "short", "code_challenge_method": "S256"}, "invalid_request"),
        ({"state": "x" * 5000}, "invalid_request"),
    ],
)
async def test_bad_authorization_requests_get_an_error_page(
    client: httpx.AsyncClient, overrides: dict[str, str | None], error: str
) -> None:
    page = await client.get("/accounts/us/oauth/v2/auth", params=auth_params(**overrides))
    assert page.status_code == 400
    assert f'<code id="error">{error}</code>' in page.text


async def test_duplicate_authorization_parameter_is_refused(client: httpx.AsyncClient) -> None:
    query = httpx.QueryParams(auth_params()).add("state", "other")
    page = await client.get("/accounts/us/oauth/v2/auth", params=query)
    assert page.status_code == 400
    assert "given twice" in page.text


async def test_unknown_data_centre_is_404(client: httpx.AsyncClient) -> None:
    page = await client.get("/accounts/xx/oauth/v2/auth", params=auth_params())
    assert page.status_code == 404
    answer = await client.post("/accounts/xx/oauth/v2/token", data={"grant_type": "x"})
    assert answer.status_code == 404


# -- the token endpoint ---------------------------------------------------------------------------


async def test_code_is_single_use(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    callback = await approve(client, world, ALICE)
    assert "access_token" in await exchange(client, "us", callback["code"])
    assert await exchange(client, "us", callback["code"]) == {"error": "invalid_code"}


async def test_code_expires_after_two_minutes(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    callback = await approve(client, world, ALICE)
    clock.advance(121)
    assert await exchange(client, "us", callback["code"]) == {"error": "invalid_code"}

    fresh = await approve(client, world, ALICE)
    clock.advance(119)
    assert "access_token" in await exchange(client, "us", fresh["code"])


async def test_unknown_code_and_unsupported_grant(client: httpx.AsyncClient) -> None:
    assert await exchange(client, "us", "1000.nope.nope") == {"error": "invalid_code"}
    body = await token(client, "us", grant_type="password", client_id=CLIENT)
    assert body == {"error": "unsupported_grant_type"}


async def test_parameters_in_the_query_string_are_accepted(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    callback = await approve(client, world, ALICE)
    tokens = await token(
        client,
        "us",
        in_query=True,
        grant_type="authorization_code",
        client_id=CLIENT,
        client_secret=SECRET,
        redirect_uri=REDIRECT,
        code=callback["code"],
    )
    assert "refresh_token" in tokens
    refreshed = await token(
        client,
        "us",
        in_query=True,
        grant_type="refresh_token",
        client_id=CLIENT,
        client_secret=SECRET,
        refresh_token=tokens["refresh_token"],
    )
    assert "access_token" in refreshed


async def test_refresh_token_at_the_wrong_datacenter_is_invalid_client(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    tokens = await connect(client, world, ELENA)
    for location in ("us", "in", "cn"):
        assert await refresh(client, location, tokens["refresh_token"]) == {
            "error": "invalid_client"
        }
    assert "access_token" in await refresh(client, "eu", tokens["refresh_token"])


async def test_pkce_s256_is_checked(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    verifier = "v" * 20 + "-verifier-that-is-long-enough-for-pkce"
    challenge = {"code_challenge": s256(verifier), "code_challenge_method": "S256"}
    callback = await approve(client, world, ALICE, **challenge)
    wrong = await exchange(client, "us", callback["code"], code_verifier=verifier + "x")
    assert wrong == {"error": "invalid_code"}
    # A failed check burns the code.
    assert await exchange(client, "us", callback["code"], code_verifier=verifier) == {
        "error": "invalid_code"
    }

    callback = await approve(client, world, ALICE, **challenge)
    missing = await exchange(client, "us", callback["code"])
    assert missing == {"error": "invalid_code"}

    callback = await approve(client, world, ALICE, **challenge)
    assert "access_token" in await exchange(client, "us", callback["code"], code_verifier=verifier)


async def test_pkce_plain(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    verifier = "p" * 50
    callback = await approve(client, world, ALICE, code_challenge=verifier)
    assert "access_token" in await exchange(client, "us", callback["code"], code_verifier=verifier)


async def test_redirect_uri_must_match_the_code(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    callback = await approve(client, world, ALICE)
    body = await exchange(client, "us", callback["code"], redirect_uri=REDIRECT + "/other")
    assert body == {"error": "invalid_redirect_uri"}


async def test_auto_registered_client_keeps_its_first_secret(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    tokens = await connect(client, world)
    wrong = await token(
        client,
        "us",
        grant_type="refresh_token",
        client_id=CLIENT,
        client_secret="another-secret",
        refresh_token=tokens["refresh_token"],
    )
    assert wrong == {"error": "invalid_client_secret"}


async def test_registered_client_enforces_redirect_uri_and_secret(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    control = AsyncSandboxControl(client)
    await control.register_client(CLIENT, SECRET, [REDIRECT])
    page = await client.get(
        "/accounts/us/oauth/v2/auth", params=auth_params(redirect_uri=REDIRECT + "/")
    )
    assert page.status_code == 400
    assert "invalid_redirect_uri" in page.text

    callback = await approve(client, world, ALICE)
    wrong = await exchange(client, "us", callback["code"], client_secret="not-it")
    assert wrong == {"error": "invalid_client_secret"}
    callback = await approve(client, world, ALICE)
    assert "access_token" in await exchange(client, "us", callback["code"])


async def test_unknown_client_is_refused_without_auto_registration(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    await AsyncSandboxControl(client).configure(auto_register_clients=False)
    page = await client.get("/accounts/us/oauth/v2/auth", params=auth_params())
    assert page.status_code == 400 and "invalid_client" in page.text
    assert await exchange(client, "us", "1000.a.b") == {"error": "invalid_client"}


async def test_online_access_gives_no_refresh_token(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    tokens = await connect(client, world, access_type="online")
    assert "access_token" in tokens and "refresh_token" not in tokens


async def test_second_grant_without_prompt_consent_gives_no_refresh_token(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    first = await connect(client, world, prompt=None)
    assert "refresh_token" in first
    again = await connect(client, world, prompt=None)
    assert "access_token" in again and "refresh_token" not in again
    forced = await connect(client, world, prompt="consent")
    assert "refresh_token" in forced


async def test_legacy_token_format(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    await AsyncSandboxControl(client).configure(token_format="legacy")
    tokens = await connect(client, world)
    assert tokens["expires_in_sec"] == 3600
    assert tokens["expires_in"] == 3_600_000


async def test_access_token_expires(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    await AsyncSandboxControl(client).set_access_token_lifetime(60)
    tokens = await connect(client, world)
    assert tokens["expires_in"] == 60
    clock.advance(59)
    assert world.authenticate(tokens["access_token"]) is not None
    clock.advance(1)
    assert world.authenticate(tokens["access_token"]) is None


# -- Zoho's limits --------------------------------------------------------------------------------


async def test_s33_throttle_after_ten_refreshes_then_recovers_after_the_window(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    tokens = await connect(client, world)
    for _ in range(10):
        assert "access_token" in await refresh(client, "us", tokens["refresh_token"])
        clock.advance(30)
    throttled = await refresh(client, "us", tokens["refresh_token"])
    assert throttled["error"] == "Access Denied"
    assert throttled["status"] == "failure"
    assert "too many requests" in throttled["error_description"]
    clock.advance(250)  # 550 s after the first refresh: still inside the window
    assert (await refresh(client, "us", tokens["refresh_token"]))["error"] == "Access Denied"
    clock.advance(51)  # the first refresh is now more than 10 minutes old
    assert "access_token" in await refresh(client, "us", tokens["refresh_token"])
    assert (await refresh(client, "us", tokens["refresh_token"]))["error"] == "Access Denied"


async def test_s33_fixed_window_reading_of_the_throttle(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    await AsyncSandboxControl(client).configure(throttle_window="fixed", throttle_wording="new")
    tokens = await connect(client, world)
    for _ in range(10):
        assert "access_token" in await refresh(client, "us", tokens["refresh_token"])
        clock.advance(30)
    throttled = await refresh(client, "us", tokens["refresh_token"])
    assert throttled["error"] == "Access Denied"
    assert "Token creation throttle limit reached" in throttled["error_description"]
    clock.advance(301)  # 601 s after the window opened: a new window, all 10 refreshes again
    for _ in range(10):
        assert "access_token" in await refresh(client, "us", tokens["refresh_token"])
    assert (await refresh(client, "us", tokens["refresh_token"]))["error"] == "Access Denied"


@pytest.mark.parametrize("keep", [None, 10, 15, 30])
async def test_live_access_tokens_per_refresh_token_evict_the_oldest(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock, keep: int | None
) -> None:
    """Zoho's pages say 10 (the default, Accounts' page), 15 or 30 live access tokens."""
    control = AsyncSandboxControl(client)
    await control.set_access_token_lifetime(86_400)
    if keep is not None:
        await control.configure(live_access_tokens=keep)  # type: ignore[arg-type]
    limit = keep or 10
    tokens = await connect(client, world)
    issued = [tokens["access_token"]]
    while len(issued) < limit + 1:
        issued.append((await refresh(client, "us", tokens["refresh_token"]))["access_token"])
        if len(issued) % 9 == 0:
            clock.advance(601)  # stay under the 10-refreshes-in-10-minutes throttle
    assert world.authenticate(issued[0]) is None
    assert all(world.authenticate(t) is not None for t in issued[1:])
    stats = await control.stats(tokens["refresh_token"])
    assert stats["live_access_tokens"] == limit
    assert stats["access_tokens_minted"] == limit + 1


async def test_twenty_first_refresh_token_kills_the_oldest_and_its_access_tokens(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    grants = []
    for _ in range(21):
        grants.append(await connect(client, world))
        if len(grants) % 10 == 0:
            clock.advance(601)  # 10 codes and 10 refresh tokens in 10 minutes at most
    first, second = grants[0], grants[1]
    assert await refresh(client, "us", first["refresh_token"]) == {"error": "invalid_code"}
    assert world.authenticate(first["access_token"]) is None
    assert world.authenticate(second["access_token"]) is not None
    assert "access_token" in await refresh(client, "us", second["refresh_token"])
    # Another user's tokens are not touched by Alice's limit.
    bob = await connect(client, world, "bob@bluebird.example")
    assert "access_token" in await refresh(client, "us", bob["refresh_token"])


async def test_eleventh_authorization_code_in_ten_minutes_is_access_denied(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    for _ in range(10):
        assert "code" in await approve(client, world, ALICE)
        clock.advance(30)
    # The authorize step sends the browser back at once, state kept, as if the user declined.
    page = await client.get(f"{BASE}/accounts/us/oauth/v2/auth", params=auth_params())
    assert page.status_code == 302
    location = page.headers["location"]
    assert location.startswith(REDIRECT + "?")
    assert query_of(location) == {"error": ["access_denied"], "state": ["state-123"]}
    # Per client: another client still gets its codes.
    other = await client.get(
        f"{BASE}/accounts/us/oauth/v2/auth", params=auth_params(client_id="1000.OTHER")
    )
    assert other.status_code == 200
    clock.advance(301)  # the first code is now more than 10 minutes old
    assert "code" in await approve(client, world, ALICE)


async def test_code_limit_also_holds_when_the_window_fills_during_consent(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    await AsyncSandboxControl(client).configure(authorization_code_limit=2)
    url = f"{BASE}/accounts/us/oauth/v2/auth"
    page = await client.get(url, params=auth_params(state="late"))
    assert page.status_code == 200  # the consent page is open ...
    for _ in range(2):
        await approve(client, world, ALICE)  # ... while two other flows use up the codes
    answer = await client.post(
        str(page.url), data={"user_id": user_id(world, ALICE), "decision": "approve"}
    )
    assert answer.status_code == 302
    assert query_of(answer.headers["location"]) == {
        "error": ["access_denied"],
        "state": ["late"],
    }


async def test_code_limit_fixed_window_and_off(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    control = AsyncSandboxControl(client)
    await control.configure(throttle_window="fixed", authorization_code_limit=3)
    for _ in range(3):
        await approve(client, world, ALICE)
        clock.advance(100)
    url = f"{BASE}/accounts/us/oauth/v2/auth"
    assert (await client.get(url, params=auth_params())).status_code == 302
    clock.advance(301)  # 601 s after the window opened: a new window with all 3 codes
    for _ in range(3):
        await approve(client, world, ALICE)
    assert (await client.get(url, params=auth_params())).status_code == 302
    await control.configure(authorization_code_limit=0)
    assert (await client.get(url, params=auth_params())).status_code == 200


async def test_eleventh_refresh_token_for_a_user_in_ten_minutes_is_access_denied(
    client: httpx.AsyncClient, world: SandboxWorld, clock: Clock
) -> None:
    await AsyncSandboxControl(client).configure(authorization_code_limit=0)
    for _ in range(10):
        assert "refresh_token" in await connect(client, world)
        clock.advance(10)
    callback = await approve(client, world, ALICE)
    refused = await exchange(client, "us", callback["code"])
    assert refused["error"] == "Access Denied"
    assert refused["status"] == "failure"
    assert "access_token" not in refused and "refresh_token" not in refused
    # The code is spent all the same, and nothing was minted for it.
    assert (await exchange(client, "us", callback["code"])) == {"error": "invalid_code"}
    stats = await AsyncSandboxControl(client).stats()
    assert stats["live_refresh_tokens"] == 10
    # Per user: Bob still gets his; Alice again once her first token is 10 minutes old.
    assert "refresh_token" in await connect(client, world, "bob@bluebird.example")
    clock.advance(511)
    assert "refresh_token" in await connect(client, world)


async def test_refresh_token_limit_can_be_set_and_reset_clears_the_counters(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    control = AsyncSandboxControl(client)
    settings = await control.configure(refresh_token_limit=1, authorization_code_limit=1)
    assert settings["refresh_token_limit"] == 1
    assert settings["authorization_code_limit"] == 1
    assert settings["live_access_tokens"] == 10
    await connect(client, world)
    url = f"{BASE}/accounts/us/oauth/v2/auth"
    assert (await client.get(url, params=auth_params())).status_code == 302
    await control.reset()  # counters and settings back to Zoho's
    assert (await control.configure())["authorization_code_limit"] == 10
    await control.configure(refresh_token_limit=1)
    await connect(client, world)
    callback = await approve(client, world, ALICE)
    assert (await exchange(client, "us", callback["code"]))["error"] == "Access Denied"


async def test_live_access_tokens_setting_accepts_only_zohos_readings(
    client: httpx.AsyncClient,
) -> None:
    answer = await client.patch("/_sandbox/settings", json={"live_access_tokens": 20})
    assert answer.status_code == 422
    answer = await client.patch("/_sandbox/settings", json={"refresh_token_limit": -1})
    assert answer.status_code == 422


# -- revocation -----------------------------------------------------------------------------------

REVOKE = "/accounts/us/oauth/v2/token/revoke"
REVOKE_WITH_CLIENT = "/accounts/us/oauth/v2/revoke/token"


def basic(client_id: str = CLIENT, secret: str = SECRET) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def test_revoking_a_refresh_token_kills_its_access_tokens(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    tokens = await connect(client, world)
    more = await refresh(client, "us", tokens["refresh_token"])
    # The token in the form body, as Zoho's official SDKs send it.
    answer = await client.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert answer.status_code == 200
    assert answer.json() == {"status": "success"}
    assert world.authenticate(tokens["access_token"]) is None
    assert world.authenticate(more["access_token"]) is None
    assert await refresh(client, "us", tokens["refresh_token"]) == {"error": "invalid_code"}
    again = await client.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert again.status_code == 400


async def test_revoke_takes_the_token_in_the_query_too(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    """Zoho's Accounts page shows ``?token=``; older clients send it so."""
    tokens = await connect(client, world)
    answer = await client.post(REVOKE, params={"token": tokens["refresh_token"]})
    assert answer.json() == {"status": "success"}
    assert await refresh(client, "us", tokens["refresh_token"]) == {"error": "invalid_code"}


async def test_revoke_unknown_or_wrong_datacenter_token_is_400(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    unknown = await client.post(REVOKE, data={"token": "1000.x.y"})
    assert unknown.status_code == 400
    tokens = await connect(client, world, ELENA)
    wrong_location = await client.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert wrong_location.status_code == 400
    assert "access_token" in await refresh(client, "eu", tokens["refresh_token"])


async def test_revoking_an_access_token(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    tokens = await connect(client, world)
    answer = await client.post(REVOKE, data={"token": tokens["access_token"]})
    assert answer.json() == {"status": "success"}
    assert world.authenticate(tokens["access_token"]) is None
    assert "access_token" in await refresh(client, "us", tokens["refresh_token"])


async def test_revoke_token_endpoint_needs_the_client_and_the_token_type(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    """``POST /oauth/v2/revoke/token``: the client in HTTP Basic, ``token`` and ``token_type``."""
    tokens = await connect(client, world)
    body = {"token": tokens["refresh_token"], "token_type": "refresh_token"}
    for headers in ({}, basic(secret="wrong"), basic(client_id="1000.OTHER")):
        refused = await client.post(REVOKE_WITH_CLIENT, data=body, headers=headers)
        assert refused.status_code == 400
        assert refused.json()["error"] == "invalid_client"
    untyped = await client.post(
        REVOKE_WITH_CLIENT, data={"token": tokens["refresh_token"]}, headers=basic()
    )
    assert untyped.status_code == 400
    mistyped = await client.post(
        REVOKE_WITH_CLIENT,
        data={"token": tokens["refresh_token"], "token_type": "access_token"},
        headers=basic(),
    )
    assert mistyped.status_code == 400
    assert world.authenticate(tokens["access_token"]) is not None
    done = await client.post(REVOKE_WITH_CLIENT, data=body, headers=basic())
    assert done.json() == {"status": "success"}
    assert world.authenticate(tokens["access_token"]) is None
    assert await refresh(client, "us", tokens["refresh_token"]) == {"error": "invalid_code"}


async def test_revoke_token_endpoint_revokes_only_its_clients_access_tokens(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    tokens = await connect(client, world)
    await AsyncSandboxControl(client).register_client("1000.OTHER", "other-secret")
    query = {"token": tokens["access_token"], "token_type": "access_token"}
    foreign = await client.post(
        REVOKE_WITH_CLIENT, params=query, headers=basic("1000.OTHER", "other-secret")
    )
    assert foreign.status_code == 400
    assert world.authenticate(tokens["access_token"]) is not None
    done = await client.post(REVOKE_WITH_CLIENT, params=query, headers=basic())
    assert done.json() == {"status": "success"}
    assert world.authenticate(tokens["access_token"]) is None


# -- scripted faults ------------------------------------------------------------------------------


async def test_scripted_token_answers_come_first_then_normal_service(
    client: httpx.AsyncClient, world: SandboxWorld
) -> None:
    control = AsyncSandboxControl(client)
    tokens = await connect(client, world)
    await control.script("accounts.token", body={"error": "invalid_code"}, times=2)
    assert await refresh(client, "us", tokens["refresh_token"]) == {"error": "invalid_code"}
    assert await refresh(client, "us", tokens["refresh_token"]) == {"error": "invalid_code"}
    assert "access_token" in await refresh(client, "us", tokens["refresh_token"])

    await control.script("accounts.token", status=503)
    unavailable = await client.post(
        "/accounts/us/oauth/v2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
    )
    assert unavailable.status_code == 503
    assert "access_token" in await refresh(client, "us", tokens["refresh_token"])


class HeldSleep:
    """The sandbox's ``sleep``: records each delay asked for and returns only when let go."""

    def __init__(self) -> None:
        self.asked: list[float] = []
        self.waiting = anyio.Event()
        self.go = anyio.Event()

    async def __call__(self, seconds: float) -> None:
        self.asked.append(seconds)
        self.waiting.set()
        await self.go.wait()


async def test_scripted_delay_holds_the_answer_back_then_answers_normally(clock: Clock) -> None:
    held = HeldSleep()
    app = create_sandbox_app(base_url=BASE, clock=clock, sleep=held)
    world: SandboxWorld = app.state.world
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            control = AsyncSandboxControl(client)
            tokens = await connect(client, world)
            await control.script("accounts.*", status=None, delay=0.05)
            answers: list[dict[str, Any]] = []

            async def call() -> None:
                answers.append(await refresh(client, "us", tokens["refresh_token"]))

            async with anyio.create_task_group() as group:
                group.start_soon(call)
                with anyio.fail_after(10):
                    await held.waiting.wait()
                # Held for the scripted time, before Zoho acts: no answer yet, nothing minted.
                assert held.asked == [0.05]
                assert answers == []
                assert (await control.stats(tokens["refresh_token"]))["refresh_grants"] == 0
                held.go.set()
            # Then the normal answer; the delay was for one answer only.
            assert "access_token" in answers[0]
            assert "access_token" in await refresh(client, "us", tokens["refresh_token"])
            assert held.asked == [0.05]
            assert (await control.stats(tokens["refresh_token"]))["refresh_grants"] == 2
    finally:
        world.close()


async def test_scripted_revoke_failure(client: httpx.AsyncClient, world: SandboxWorld) -> None:
    tokens = await connect(client, world)
    await AsyncSandboxControl(client).script("accounts.revoke", status=500, body={"x": 1})
    failed = await client.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert failed.status_code == 500
    assert world.authenticate(tokens["access_token"]) is not None
    done = await client.post(REVOKE, data={"token": tokens["refresh_token"]})
    assert done.json() == {"status": "success"}
