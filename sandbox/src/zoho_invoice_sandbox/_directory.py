"""The simulated people and organizations of the sandbox, spread over Zoho's data centres.

Everything here is deterministic: the same user ids, e-mails and organization ids on every run, so
tests and the demo can name them. Organization ids are long numeric strings above 2**53, as Zoho's
are, so a client that turns them into floats gets caught.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Directory", "SimOrganization", "SimUser"]


@dataclass(frozen=True, slots=True)
class SimOrganization:
    """A Zoho Invoice organization living in one data centre."""

    organization_id: str
    name: str
    location: str
    currency_code: str
    owner_user_id: str


@dataclass(frozen=True, slots=True)
class SimUser:
    """A Zoho user; ``location`` is the data centre that holds the account."""

    user_id: str
    email: str
    display_name: str
    location: str
    organization_ids: tuple[str, ...]


# (location, e-mail, display name, [(organization name, currency)])
_PEOPLE: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("us", "alice@acme.example", "Alice Anderson", (("Acme Corp", "USD"), ("Acme Labs", "USD"))),
    ("us", "bob@bluebird.example", "Bob Brown", (("Bluebird Bakery", "USD"),)),
    (
        "eu",
        "elena@eurotech.example",
        "Elena Esposito",
        (("Eurotech GmbH", "EUR"), ("Eurotech Italia", "EUR")),
    ),
    ("eu", "franz@fischer.example", "Franz Fischer", (("Fischer Fahrraeder", "EUR"),)),
    ("in", "ishaan@indigo.example", "Ishaan Iyer", (("Indigo Traders", "INR"),)),
    (
        "au",
        "amelia@outback.example",
        "Amelia Archer",
        (("Outback Supplies", "AUD"), ("Archer Consulting", "AUD")),
    ),
    ("jp", "haruto@hayashi.example", "Haruto Hayashi", (("Hayashi Shoten", "JPY"),)),
    ("ca", "charlotte@maple.example", "Charlotte Cote", (("Maple Widgets", "CAD"),)),
    ("sa", "sara@saleh.example", "Sara Saleh", (("Saleh Trading", "SAR"),)),
    ("uk", "oliver@owen.example", "Oliver Owen", (("Owen and Sons", "GBP"),)),
    (
        "cn",
        "chen@chen-electronics.example",
        "Chen Wei",
        (("Chen Electronics", "CNY"), ("Shanghai Silk", "CNY")),
    ),
)

# Above 2**53 (9007199254740992): JSON numbers would lose digits, as with Zoho's real ids.
_ORG_ID_BASE = 800_000_000_000_000_000
_USER_ID_BASE = 700_000_000


class Directory:
    """Users and organizations, looked up by id, e-mail or data centre.

    >>> directory = Directory.default()
    >>> [org.name for org in directory.organizations_for(directory.users[0].user_id)]
    ['Acme Corp', 'Acme Labs']
    """

    def __init__(self, users: Iterable[SimUser], organizations: Iterable[SimOrganization]) -> None:
        self.users: tuple[SimUser, ...] = tuple(users)
        self.organizations: tuple[SimOrganization, ...] = tuple(organizations)
        self._users = {user.user_id: user for user in self.users}
        self._by_email = {user.email.lower(): user for user in self.users}
        self._orgs = {org.organization_id: org for org in self.organizations}

    @classmethod
    def default(cls) -> Directory:
        users: list[SimUser] = []
        organizations: list[SimOrganization] = []
        org_number = 0
        for number, (location, email, name, orgs) in enumerate(_PEOPLE, start=1):
            user_id = str(_USER_ID_BASE + number * 1001)
            org_ids: list[str] = []
            for org_name, currency in orgs:
                org_number += 1
                org_id = str(_ORG_ID_BASE + org_number * 1_000_003)
                org_ids.append(org_id)
                organizations.append(SimOrganization(org_id, org_name, location, currency, user_id))
            users.append(SimUser(user_id, email, name, location, tuple(org_ids)))
        return cls(users, organizations)

    def user(self, user_id: str) -> SimUser | None:
        return self._users.get(user_id)

    def user_by_email(self, email: str) -> SimUser | None:
        return self._by_email.get(email.lower())

    def users_in(self, location: str) -> list[SimUser]:
        return [user for user in self.users if user.location == location]

    def organization(self, organization_id: str) -> SimOrganization | None:
        return self._orgs.get(organization_id)

    def organizations_for(self, user_id: str) -> list[SimOrganization]:
        """The organizations the user belongs to (an unknown user has none)."""
        user = self._users.get(user_id)
        if user is None:
            return []
        return [self._orgs[org_id] for org_id in user.organization_ids]
