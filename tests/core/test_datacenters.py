"""Unit tests for the data-centre table and its checks (SECURITY 7, 8, 9, 10, 19)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoho_invoice._exceptions import ConfigurationError, DataCenterError
from zoho_invoice.datacenters import BUILTIN_DATACENTERS, DataCenterTable


def test_builtin_table_has_the_nine_zoho_datacenters() -> None:
    table = DataCenterTable.builtin()
    assert sorted(table.locations) == sorted(["us", "eu", "in", "au", "jp", "ca", "sa", "uk", "cn"])
    assert table.get("ca").accounts_url == "https://accounts.zohocloud.ca"
    assert table.get("eu").token_url == "https://accounts.zoho.eu/oauth/v2/token"
    assert table.get("au").invoice_api_url == "https://www.zohoapis.com.au/invoice/v3"
    assert not table.loopback_only


def test_s10_builtin_table_is_https_only() -> None:
    for datacenter in BUILTIN_DATACENTERS.values():
        assert datacenter.accounts_url.startswith("https://")
        assert datacenter.api_domain.startswith("https://")


@pytest.mark.parametrize(
    "accounts_server",
    [
        "http://accounts.zoho.eu",
        "https://accounts.zoho.eu.evil.com",
        "https://accounts.zoho.com.evil.com",
        "https://accounts.zoho.eu@evil.com",
        "https://evil.com@accounts.zoho.eu",
        "https://accounts.zoho.eu:443",
        "https://accounts.zoho.eu:8443",
        "https://ACCOUNTS.ZOHO.EU",
        "https://accounts.zoho.eu.",
        "https://accounts.zoho.eu/",
        "https://accounts.zoho.eu/oauth",
        "https://185.20.209.1",
        "https://localhost",
        "http://127.0.0.1:8090/accounts/eu",
        "https://accounts.zoho.com",
        "https://accounts.zoho.in",
        "",
        " https://accounts.zoho.eu",
    ],
)
def test_s07_accounts_server_not_in_table(accounts_server: str) -> None:
    table = DataCenterTable.builtin()
    with pytest.raises(DataCenterError):
        table.check_accounts_server("eu", accounts_server)


def test_s07_exact_accounts_server_is_accepted() -> None:
    table = DataCenterTable.builtin()
    assert table.check_accounts_server("eu", "https://accounts.zoho.eu").location == "eu"
    assert table.check_accounts_server("ca", "https://accounts.zohocloud.ca").location == "ca"


@pytest.mark.parametrize("location", [None, "", "xx", "EU", "eu ", "u\u0073\u200b", "us/../eu"])
def test_s08_unknown_or_missing_location(location: str | None) -> None:
    table = DataCenterTable.builtin()
    with pytest.raises(DataCenterError):
        table.check_accounts_server(location, "https://accounts.zoho.com")


def test_s08_unknown_start_location_is_refused() -> None:
    table = DataCenterTable.builtin()
    with pytest.raises(DataCenterError):
        table.start_for("mars")
    assert table.start_for(None).location == "us"
    assert table.start_for("eu").location == "us"  # Zoho sends eu users on from the US server
    assert table.start_for("cn").location == "cn"  # China is separate


@pytest.mark.parametrize(
    "api_domain",
    [
        "https://www.zohoapis.com",
        "https://www.zohoapis.eu.evil.com",
        "http://www.zohoapis.eu",
        "https://www.zohoapis.eu/",
        "https://WWW.zohoapis.eu",
    ],
)
def test_s19_api_domain_not_the_tables(api_domain: str) -> None:
    with pytest.raises(DataCenterError):
        DataCenterTable.builtin().check_api_domain("eu", api_domain)


def test_s19_table_api_domain_is_accepted() -> None:
    assert DataCenterTable.builtin().check_api_domain("eu", "https://www.zohoapis.eu").location
    assert DataCenterTable.builtin().check_api_domain("eu", None).location == "eu"


def test_s09_is_accounts_url_only_for_table_hosts() -> None:
    table = DataCenterTable.builtin()
    assert table.is_accounts_url("https://accounts.zoho.eu/oauth/v2/token")
    assert not table.is_accounts_url("https://accounts.zoho.eu.evil.com/oauth/v2/token")
    assert not table.is_accounts_url("https://evil.com/oauth/v2/token")


def test_table_from_file_with_paths_on_loopback(tmp_path: Path) -> None:
    path = tmp_path / "datacenters.json"
    base = "http://127.0.0.1:8090"
    path.write_text(
        json.dumps(
            {
                "us": {"accounts_url": f"{base}/accounts/us", "api_domain": f"{base}/api/us"},
                "eu": {"accounts_url": f"{base}/accounts/eu", "api_domain": f"{base}/api/eu"},
            }
        )
    )
    table = DataCenterTable.from_file(path)
    assert table.loopback_only
    assert table.get("eu").token_url == f"{base}/accounts/eu/oauth/v2/token"
    assert table.get("eu").invoice_api_url == f"{base}/api/eu/invoice/v3"
    assert table.check_accounts_server("eu", f"{base}/accounts/eu").location == "eu"
    with pytest.raises(DataCenterError):
        table.check_accounts_server("eu", f"{base}/accounts/us")


@pytest.mark.parametrize(
    "url",
    [
        "http://accounts.zoho.eu",  # plain http to a real host: TLS cannot be switched off
        "http://10.0.0.5/accounts/us",
        "http://127.0.0.1.evil.com/x",
        "http://localhost:8090/accounts/us",  # a name, not a loopback literal
        "http://LOCALHOST/x",
        "ftp://127.0.0.1/x",
        "https://user:pw@accounts.zoho.com",
        "https://accounts.zoho.com/?x=1",
        "https://accounts.zoho.com/",
        "",
    ],
)
def test_s10_file_table_refuses_plain_http_beyond_loopback(tmp_path: Path, url: str) -> None:
    path = tmp_path / "datacenters.json"
    path.write_text(json.dumps({"us": {"accounts_url": url, "api_domain": "https://x.example"}}))
    with pytest.raises(ConfigurationError):
        DataCenterTable.from_file(path)


def test_file_table_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        DataCenterTable.from_file(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigurationError, match="not valid JSON"):
        DataCenterTable.from_file(bad)
    no_us = tmp_path / "no_us.json"
    no_us.write_text(
        json.dumps({"eu": {"accounts_url": "https://a.example", "api_domain": "https://b.example"}})
    )
    with pytest.raises(ConfigurationError, match="'us'"):
        DataCenterTable.from_file(no_us)


def test_s10_file_table_accepts_loopback_ip_literals(tmp_path: Path) -> None:
    for base in ("http://127.0.0.1:8090", "http://127.5.6.7", "http://[::1]:8090"):
        table = DataCenterTable.from_mapping(
            {"us": {"accounts_url": f"{base}/accounts/us", "api_domain": f"{base}/api/us"}}
        )
        assert table.get("us").accounts_url == f"{base}/accounts/us"


def test_s07_absent_accounts_server_is_refused() -> None:
    table = DataCenterTable.builtin()
    with pytest.raises(DataCenterError, match="accounts-server"):
        table.check_accounts_server("eu", None)
