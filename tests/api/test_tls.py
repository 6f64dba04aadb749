"""The Invoice API client refuses an HTTP client that does not verify TLS for an https API
domain (SECURITY 50). Unit tests, plus the sandbox on a real loopback port for the case that
is allowed."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox_support import ALICE, FULL_ACCESS, mint
from zoho_invoice import ConfigurationError
from zoho_invoice._http import httpx
from zoho_invoice.api import AsyncZohoInvoice, UnlimitedBudget, ZohoInvoice
from zoho_invoice_sandbox import RunningSandbox, running_sandbox

ORG = "10234695"


class Provider:
    """A token provider that names its API domain, as a stored connection does."""

    refreshable = True

    def __init__(self, api_domain: str, token: str = "1000.tok.en") -> None:
        self.api_domain = api_domain
        self.token = token
        self.calls = 0

    def get(self) -> tuple[str, str, str | None]:
        self.calls += 1
        return self.token, self.api_domain, None

    def invalidate(self, token: str, *, code: int | None, operation: str) -> bool:
        return True

    def confirm(self, token: str, operation: str | None) -> None:
        return None


class AsyncProvider(Provider):
    async def get(self) -> tuple[str, str, str | None]:  # type: ignore[override]
        return Provider.get(self)

    async def invalidate(  # type: ignore[override]
        self, token: str, *, code: int | None, operation: str
    ) -> bool:
        return True

    async def confirm(self, token: str, operation: str | None) -> None:  # type: ignore[override]
        return None


NOT_VERIFYING = [
    pytest.param(lambda: httpx.Client(verify=False), id="verify-false"),
    pytest.param(lambda: httpx.Client(transport=httpx.HTTPTransport(verify=False)), id="transport"),
    pytest.param(
        lambda: httpx.Client(mounts={"https://": httpx.HTTPTransport(verify=False)}), id="mount"
    ),
]


@pytest.mark.parametrize("make", NOT_VERIFYING)
def test_s50_static_token_with_https_domain_refuses_a_non_verifying_client(make) -> None:
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        ZohoInvoice(access_token="1000.tok.en", organization_id=ORG, http_client=make())
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        ZohoInvoice(
            access_token="1000.tok.en",
            organization_id=ORG,
            api_domain="https://www.zohoapis.eu",
            http_client=make(),
        )


def test_s50_async_client_with_https_domain_refuses_a_non_verifying_client() -> None:
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        AsyncZohoInvoice(
            access_token="1000.tok.en",
            organization_id=ORG,
            http_client=httpx.AsyncClient(verify=False),
        )
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        AsyncZohoInvoice(
            token_provider=AsyncProvider("http://127.0.0.1:9/api/us"),
            api_domain="https://www.zohoapis.com",
            http_client=httpx.AsyncClient(verify=False),
        )


def test_s50_domain_from_the_token_provider_is_checked_before_the_first_request() -> None:
    provider = Provider("https://www.zohoapis.com")
    # Anything that did leave would fail differently (no route to Zoho from the tests).
    client = ZohoInvoice(
        token_provider=provider, http_client=httpx.Client(verify=False), budget=UnlimitedBudget()
    )
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        client.organizations.list()
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        client.contacts.list()
    assert provider.calls == 2  # the refused domain is not remembered as the client's target


@pytest.mark.anyio
async def test_s50_async_domain_from_the_token_provider_is_checked_before_the_first_request() -> (
    None
):
    client = AsyncZohoInvoice(
        token_provider=AsyncProvider("https://www.zohoapis.eu"),
        http_client=httpx.AsyncClient(verify=False),
        budget=UnlimitedBudget(),
    )
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        await client.organizations.list()
    await client.aclose()


def test_s50_unknown_transport_and_named_hosts_are_refused() -> None:
    class Custom(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            return httpx.Response(200)

    with pytest.raises(ConfigurationError, match="cannot be checked"):
        ZohoInvoice(
            access_token="t", organization_id=ORG, http_client=httpx.Client(transport=Custom())
        )
    # "localhost" is whatever the resolver says; only a loopback IP literal counts.
    with pytest.raises(ConfigurationError, match="does not verify TLS"):
        ZohoInvoice(
            access_token="t",
            organization_id=ORG,
            api_domain="http://localhost:8090/api/us",
            http_client=httpx.Client(verify=False),
        )


def test_s50_verifying_and_in_process_clients_are_accepted_for_https() -> None:
    ZohoInvoice(access_token="t", organization_id=ORG, http_client=httpx.Client())
    mock = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    ZohoInvoice(access_token="t", organization_id=ORG, http_client=mock)
    AsyncZohoInvoice(access_token="t", organization_id=ORG, http_client=httpx.AsyncClient())


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with running_sandbox() as running:
        yield running


def test_s50_loopback_http_domain_may_use_a_non_verifying_client(sandbox: RunningSandbox) -> None:
    token = mint(sandbox.world, ALICE, FULL_ACCESS)
    with ZohoInvoice(
        access_token=token,
        api_domain=sandbox.world.api_domain("us"),
        http_client=httpx.Client(verify=False),
        budget=UnlimitedBudget(),
    ) as client:
        names = [org.name for org in client.organizations.list()]
    assert len(names) == 2


@pytest.mark.anyio
async def test_s50_async_loopback_http_domain_may_use_a_non_verifying_client(
    sandbox: RunningSandbox,
) -> None:
    token = mint(sandbox.world, ALICE, FULL_ACCESS)
    async with AsyncZohoInvoice(
        token_provider=AsyncProvider(sandbox.world.api_domain("us"), token),
        http_client=httpx.AsyncClient(verify=False),
        budget=UnlimitedBudget(),
    ) as client:
        names = [org.name for org in await client.organizations.list()]
    assert len(names) == 2
