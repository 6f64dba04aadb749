"""The ``zoho_sandbox`` pytest fixture: a local Zoho for the tests of your own Zoho code.

Installed with ``zoho-invoice-sandbox`` (entry point ``pytest11``), so pytest finds it by itself.
The sandbox is served once per test session on a free loopback port (in a thread) and reset
before each test that asks for it: no clients, tokens, invoices, faults, journal, changed
settings, limits or counted requests of an earlier test remain.

>>> def test_overdue_report(zoho_sandbox):                              # doctest: +SKIP
...     t = zoho_sandbox.access_token()
...     zoho_sandbox.seed(t.organization_id, invoices=30)
...     with ZohoInvoice(access_token=t.token, api_domain=t.api_domain,
...                      organization_id=t.organization_id) as z:
...         assert my_report(z).count == ...

A session that never asks for ``zoho_sandbox`` starts nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # imported when the fixture first runs: pytest's start-up stays light
    from ._control import SandboxControl
    from ._http import httpx
    from ._server import RunningSandbox
    from .invoice import InvoiceSandboxControl, SeedResult

__all__ = ["SandboxToken", "ZohoSandbox", "zoho_sandbox"]

#: The scope a token of :meth:`ZohoSandbox.access_token` carries unless told otherwise.
FULL_ACCESS = ("ZohoInvoice.fullaccess.all",)
_REDIRECT_URI = "http://127.0.0.1/zoho-sandbox-fixture/callback"


@dataclass(frozen=True, slots=True)
class SandboxToken:
    """A live access token of a simulated Zoho user, with what a client needs beside it."""

    token: str
    #: The user's data centre's API domain at the sandbox (``{url}/api/{location}``).
    api_domain: str
    #: The user's first organization.
    organization_id: str
    user_id: str
    email: str
    #: The data centre: ``us``, ``eu``, ``in``, ``au``, ``jp``, ``ca``, ``sa``, ``uk``, ``cn``.
    location: str


class ZohoSandbox:
    """The sandbox of a test session, as the ``zoho_sandbox`` fixture hands it to a test.

    ``url`` is its base URL; ``datacenters_file`` a JSON file usable as ``ZOHO_DATACENTERS``
    (every data centre's Accounts URL and API domain at the sandbox); ``client_id`` and
    ``client_secret`` an OAuth client it accepts; ``control`` the control client
    (:class:`SandboxControl`: faults, journal, settings, users) and ``invoice_control`` the
    Invoice side's (limits, seeding, recorded e-mails).
    """

    client_id = "1000.ZOHOSANDBOXFIXTURE"
    client_secret = "zoho-sandbox-fixture-secret"

    def __init__(self, running: RunningSandbox, datacenters_file: Path) -> None:
        from ._control import SandboxControl
        from ._http import httpx
        from .invoice import InvoiceSandboxControl

        self._running = running
        self.url = running.base_url
        self.datacenters_file = datacenters_file
        self._http: httpx.Client = httpx.Client(base_url=self.url, timeout=120)
        self.control: SandboxControl = SandboxControl(self._http)
        self.invoice_control: InvoiceSandboxControl = InvoiceSandboxControl(self._http)
        self._tokens: dict[tuple[str, tuple[str, ...]], SandboxToken] = {}

    def reset(self) -> None:
        """Back to a fresh sandbox: what the fixture does before each test."""
        from .invoice import InvoiceLimits

        self.control.reset()  # Accounts, the Invoice data, faults, journal, settings
        self.invoice_control.set_limits(**InvoiceLimits().to_json())
        self.invoice_control.reset_usage()
        self._tokens.clear()
        self.control.register_client(self.client_id, self.client_secret)  # any redirect URI

    def seed(
        self,
        organization_id: str,
        *,
        contacts: int = 10,
        items: int = 10,
        invoices: int = 0,
        estimates: int = 0,
        seed: int = 0,
    ) -> SeedResult:
        """Create contacts, items and invoices (with their payments) in one organization.

        Invoices go to the contacts made here, or to existing ones with ``contacts=0``; their
        dates spread over the past year and their statuses over draft, sent, overdue, partially
        paid, paid and void. The same ``seed`` on the same day gives the same data.
        """
        return self.invoice_control.seed(
            organization_id,
            contacts=contacts,
            items=items,
            invoices=invoices,
            estimates=estimates,
            seed=seed,
        )

    def access_token(
        self, user: str | None = None, *, scopes: Sequence[str] = FULL_ACCESS
    ) -> SandboxToken:
        """A live access token of ``user`` (an e-mail or user id of the sandbox's directory;
        ``None``: the first user, the same one on every call) for ``scopes``.

        The token is minted as Zoho's Accounts would after the user consented (authorization
        code, then its exchange), for this fixture's client; the same user and scopes get the
        same token until the next test. ``LookupError`` for a user the sandbox does not know.
        """
        world = self._running.world
        directory = world.directory
        found = (
            directory.users[0]
            if user is None
            else directory.user_by_email(user) or directory.user(user)
        )
        if found is None:
            known = ", ".join(u.email for u in directory.users)
            raise LookupError(f"no user {user!r} in the sandbox; known: {known}")
        key = (found.user_id, tuple(scopes))
        if key not in self._tokens:
            code = world.accounts.create_code(
                client_id=self.client_id,
                redirect_uri=_REDIRECT_URI,
                scopes=list(scopes),
                user_id=found.user_id,
                location=found.location,
                challenge=None,
                challenge_method=None,
                offline=False,
                force_consent=False,
                throttle=False,  # a test's token, not a person at the authorize page
            )
            minted = world.accounts.exchange_code(
                location=found.location,
                client_id=self.client_id,
                client_secret=self.client_secret,
                code=code,
                redirect_uri=_REDIRECT_URI,
                code_verifier="",
            )
            self._tokens[key] = SandboxToken(
                token=minted.access_token,
                api_domain=world.api_domain(found.location),
                organization_id=found.organization_ids[0],
                user_id=found.user_id,
                email=found.email,
                location=found.location,
            )
        return self._tokens[key]

    def close(self) -> None:
        self._http.close()


@pytest.fixture(scope="session")
def _zoho_sandbox_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZohoSandbox]:
    """The sandbox served for the whole session, started by the first test that needs it."""
    from ._server import running_sandbox

    folder = tmp_path_factory.mktemp("zoho-sandbox")
    datacenters_file = folder / "datacenters.json"
    with running_sandbox(datacenters_out=datacenters_file) as running:
        sandbox = ZohoSandbox(running, datacenters_file)
        try:
            yield sandbox
        finally:
            sandbox.close()


@pytest.fixture
def zoho_sandbox(_zoho_sandbox_session: ZohoSandbox) -> ZohoSandbox:
    """A local Zoho (Accounts and the Invoice API), fresh for this test (:class:`ZohoSandbox`)."""
    _zoho_sandbox_session.reset()
    return _zoho_sandbox_session
