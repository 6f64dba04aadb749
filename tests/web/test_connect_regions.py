"""Integration tests: a flow ends in the region it started in (SECURITY 7, 19, 45).

Zoho's US accounts server sends users of eu, in, au ... to their own data centre, so a flow
started there may end at any of those; China's is separate: a flow started at China's server
ends there, and one started anywhere else never does. The service app with a real Vault and the
sandbox playing every data centre in process; its journal shows what reached which Zoho.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from zoho_invoice._http import httpx

BOB = "bob@bluebird.example"
FRANZ = "franz@fischer.example"  # eu
CHEN = "chen@chen-electronics.example"  # cn


def _moved_to(harness, callback_url: str, location: str) -> object:
    """The callback, rewritten to name ``location`` and that DC's own (table) accounts server:
    every parameter valid on its own, only the region differs from where the flow started."""
    params = harness.params(callback_url)
    params["location"] = location
    params["accounts-server"] = harness.app.state.context.datacenters.get(location).accounts_url
    return harness.web.get("/callback?" + urlencode(params), follow_redirects=False)


def _assert_refused_before_zoho(harness, response) -> None:
    assert response.status_code == 400, response.text
    assert "another region" in response.text
    assert harness.token_requests() == []  # neither the code nor the secret went anywhere
    assert harness.vault.list_connections() == []
    assert "max-age=0" in response.headers["set-cookie"].lower()  # its state is consumed


def test_s45_a_flow_started_at_us_never_ends_at_china(harness) -> None:
    url = harness.consent(harness.start(), BOB)
    _assert_refused_before_zoho(harness, _moved_to(harness, url, "cn"))


def test_s45_a_flow_started_at_china_never_ends_elsewhere(harness) -> None:
    authorize = harness.start(location="cn")
    assert "/accounts/cn/" in authorize
    url = harness.consent(authorize, CHEN)
    assert harness.params(url)["location"] == "cn"
    _assert_refused_before_zoho(harness, _moved_to(harness, url, "us"))


def test_s45_a_us_flow_handed_to_the_users_own_datacenter_completes_there(harness) -> None:
    url = harness.consent(harness.start(), FRANZ)
    assert harness.params(url)["location"] == "eu"
    assert harness.callback(url).status_code == 200
    [conn] = harness.vault.list_connections()
    assert conn.location == "eu"
    [exchange] = harness.token_requests()
    assert exchange.path.startswith("/accounts/eu/")


def test_s45_a_flow_started_at_china_completes_at_china(harness) -> None:
    url = harness.consent(harness.start(location="cn"), CHEN)
    assert harness.callback(url).status_code == 200
    [conn] = harness.vault.list_connections()
    assert conn.location == "cn"
    assert conn.zoho_user_id == harness.user(CHEN).user_id
    [exchange] = harness.token_requests()
    assert exchange.path.startswith("/accounts/cn/")


def test_s19_s45_a_token_answer_naming_chinas_api_domain_is_refused(harness) -> None:
    cn_api = harness.world.api_domain("cn")

    def tamper(request: httpx.Request, response: httpx.Response) -> httpx.Response:
        body = json.loads(response.content)
        body["api_domain"] = cn_api
        return httpx.Response(response.status_code, json=body)

    harness.oauth_transport.tamper = tamper
    response = harness.callback(harness.consent(harness.start(), BOB))
    assert response.status_code == 400
    assert harness.vault.list_connections() == []
    assert harness.world.accounts.stats()["live_refresh_tokens"] == 0  # given back
    assert harness.world.journal.entries("invoice.GET /users/me") == []
