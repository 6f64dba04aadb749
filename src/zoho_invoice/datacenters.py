"""Zoho's data centres: the fixed table, its replacement from a file, and the checks.

Values that arrive from outside (the callback's ``location`` and ``accounts-server``, a token
response's ``api_domain``) are accepted only when they equal the table's entry for that location,
compared as strings (RFC 9207 mix-up defence, SECURITY 7, 8, 19).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ._exceptions import ConfigurationError, DataCenterError
from ._tls import is_loopback_http

__all__ = ["BUILTIN_DATACENTERS", "DataCenter", "DataCenterTable"]


@dataclass(frozen=True, slots=True)
class DataCenter:
    """One Zoho data centre: where its accounts server and its API live."""

    location: str
    accounts_url: str
    api_domain: str

    @property
    def authorize_url(self) -> str:
        return self.accounts_url + "/oauth/v2/auth"

    @property
    def token_url(self) -> str:
        return self.accounts_url + "/oauth/v2/token"

    @property
    def revoke_url(self) -> str:
        return self.accounts_url + "/oauth/v2/token/revoke"

    @property
    def invoice_api_url(self) -> str:
        return self.api_domain + "/invoice/v3"


BUILTIN_DATACENTERS: Mapping[str, DataCenter] = {
    datacenter.location: datacenter
    for datacenter in (
        DataCenter("us", "https://accounts.zoho.com", "https://www.zohoapis.com"),
        DataCenter("eu", "https://accounts.zoho.eu", "https://www.zohoapis.eu"),
        DataCenter("in", "https://accounts.zoho.in", "https://www.zohoapis.in"),
        DataCenter("au", "https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
        DataCenter("jp", "https://accounts.zoho.jp", "https://www.zohoapis.jp"),
        # Canada's accounts server is on zohocloud.ca; accounts.zoho.ca does not exist.
        DataCenter("ca", "https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
        DataCenter("sa", "https://accounts.zoho.sa", "https://www.zohoapis.sa"),
        DataCenter("uk", "https://accounts.zoho.uk", "https://www.zohoapis.uk"),
        DataCenter("cn", "https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
    )
}


def _check_table_url(location: str, field: str, url: object) -> str:
    if not isinstance(url, str) or not url:
        raise ConfigurationError(f"data centre {location!r}: {field} must be a non-empty string")
    parts = urlsplit(url)
    if parts.scheme == "https":
        pass
    elif not is_loopback_http(url):
        # TLS cannot be switched off for real hosts (SECURITY 10): plain http only on loopback.
        raise ConfigurationError(
            f"data centre {location!r}: {field} {url!r} must be https "
            "(plain http is allowed only on a loopback IP address such as 127.0.0.1 or [::1], "
            "for the sandbox)"
        )
    if not parts.hostname or parts.username or parts.password or parts.query or parts.fragment:
        raise ConfigurationError(
            f"data centre {location!r}: {field} {url!r} must be scheme://host[:port][/path]"
        )
    if url.endswith("/"):
        raise ConfigurationError(f"data centre {location!r}: {field} {url!r} must not end in '/'")
    return url


class DataCenterTable:
    """The data centres this service talks to, keyed by Zoho's ``location`` code.

    >>> table = DataCenterTable.builtin()
    >>> table.get("ca").accounts_url
    'https://accounts.zohocloud.ca'
    """

    def __init__(self, datacenters: Mapping[str, DataCenter]) -> None:
        if "us" not in datacenters:
            raise ConfigurationError("the data-centre table needs a 'us' entry (flows start there)")
        self._by_location = dict(datacenters)

    @property
    def loopback_only(self) -> bool:
        """True when every URL of the table is plain http on a loopback IP (the sandbox's).

        Only such a table may be reached by an HTTP client that does not verify TLS
        (SECURITY 50): where the table came from (a file, a mapping) grants nothing.
        """
        return all(
            is_loopback_http(datacenter.accounts_url) and is_loopback_http(datacenter.api_domain)
            for datacenter in self
        )

    @classmethod
    def builtin(cls) -> DataCenterTable:
        return cls(BUILTIN_DATACENTERS)

    @classmethod
    def from_mapping(cls, data: object) -> DataCenterTable:
        """Build a table from ``{"us": {"accounts_url": ..., "api_domain": ...}, ...}``."""
        if not isinstance(data, dict) or not data:
            raise ConfigurationError("a data-centre table must be a non-empty JSON object")
        table: dict[str, DataCenter] = {}
        for location, entry in data.items():
            if not isinstance(location, str) or not location.isalnum() or not location.islower():
                raise ConfigurationError(f"data-centre location {location!r} must be lower-case")
            if not isinstance(entry, dict):
                raise ConfigurationError(f"data centre {location!r} must be a JSON object")
            table[location] = DataCenter(
                location=location,
                accounts_url=_check_table_url(location, "accounts_url", entry.get("accounts_url")),
                api_domain=_check_table_url(location, "api_domain", entry.get("api_domain")),
            )
        return cls(table)

    @classmethod
    def from_file(cls, path: Path) -> DataCenterTable:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read ZOHO_DATACENTERS {path}: {exc.strerror}"
            ) from None
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"ZOHO_DATACENTERS {path} is not valid JSON: {exc}") from None
        return cls.from_mapping(data)

    @classmethod
    def from_settings(cls, datacenters_file: Path | None) -> DataCenterTable:
        return cls.from_file(datacenters_file) if datacenters_file else cls.builtin()

    def __iter__(self) -> Iterator[DataCenter]:
        return iter(self._by_location.values())

    def __contains__(self, location: object) -> bool:
        return location in self._by_location

    @property
    def locations(self) -> list[str]:
        return list(self._by_location)

    def get(self, location: str | None) -> DataCenter:
        """The entry for ``location``; ``DataCenterError`` for a missing or unknown one."""
        if not location:
            raise DataCenterError("no data-centre location given")
        datacenter = self._by_location.get(location)
        if datacenter is None:
            raise DataCenterError(f"unknown data-centre location {location[:16]!r}")
        return datacenter

    def start_for(self, location: str | None = None) -> DataCenter:
        """Where authorization starts: the US server, or China's for ``location='cn'``."""
        if location == "cn" and "cn" in self._by_location:
            return self._by_location["cn"]
        if location not in (None, "", "us", "cn") and location not in self._by_location:
            raise DataCenterError(f"unknown data-centre location {location[:16]!r}")
        return self._by_location["us"]

    def check_accounts_server(
        self, location: str | None, accounts_server: str | None
    ) -> DataCenter:
        """The DC for a callback, when ``accounts-server`` is exactly the table's URL.

        Zoho always sends ``accounts-server``: a callback without it is refused (SECURITY 7).
        """
        datacenter = self.get(location)
        if accounts_server is None:
            raise DataCenterError("the callback has no accounts-server; refusing the code")
        if accounts_server != datacenter.accounts_url:
            raise DataCenterError(
                f"accounts-server does not match the data centre {datacenter.location!r}; "
                "refusing to send the code anywhere"
            )
        return datacenter

    def check_api_domain(self, location: str, api_domain: str | None) -> DataCenter:
        """The DC for a token response, when ``api_domain`` is absent or exactly the table's."""
        datacenter = self.get(location)
        if api_domain is not None and api_domain != datacenter.api_domain:
            raise DataCenterError(
                f"api_domain in the token response is not the API domain of {datacenter.location!r}"
            )
        return datacenter

    def is_accounts_url(self, url: str) -> bool:
        """True when ``url`` starts with one of the table's accounts servers (SECURITY 9)."""
        return any(
            url == datacenter.accounts_url or url.startswith(datacenter.accounts_url + "/")
            for datacenter in self
        )

    def to_mapping(self) -> dict[str, dict[str, str]]:
        return {
            datacenter.location: {
                "accounts_url": datacenter.accounts_url,
                "api_domain": datacenter.api_domain,
            }
            for datacenter in self
        }
