"""Unit test: ``zoho-invoice login --location`` is checked against the data-centre table before
anything is started or stored."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from zoho_invoice import DataCenterError
from zoho_invoice.cli._login import run_login
from zoho_invoice.settings import Settings
from zoho_invoice.vault import KeyRing


def test_unknown_location_is_refused_before_anything_starts(tmp_path: Path) -> None:
    settings = Settings(
        client_id="1000.CLIENT",
        client_secret=SecretStr("secret"),
        encryption_keys=SecretStr(KeyRing.generate_entry()),
        data_dir=tmp_path,
    )
    with pytest.raises(DataCenterError, match="use one of us, eu"):
        run_login(settings, owner="cli", location="xx", open_browser=False, timeout=1)
    assert list(tmp_path.iterdir()) == []  # no database was created
