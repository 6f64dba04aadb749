"""Unit test: the package imports its parts on first use (PEP 562), so a process that only calls
Zoho (``import zoho_invoice.api``) never loads the vault, SQLAlchemy, Alembic, FastAPI or the token
manager. Those left some 100,000 objects alive that every full garbage collection walks, which
paused an async client's event loop for 120-170 ms (issue 9, ``bench/loop_lag.py``).

Each check runs in a fresh interpreter: this test process has long since imported everything.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import zoho_invoice

#: What a user of the Invoice API client alone must not pay for at import.
HEAVY = ("sqlalchemy", "alembic", "fastapi", "zoho_invoice.vault", "zoho_invoice.tokens")


def _loaded_after(code: str) -> list[str]:
    """The modules of ``HEAVY`` a fresh interpreter holds after running ``code``."""
    probe = (
        f"{code}\nimport json, sys\nprint(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import zoho_invoice.api",
        "from zoho_invoice.api import AsyncZohoInvoice, ZohoInvoice, default_budget",
        "from zoho_invoice import AsyncZohoInvoice, ZohoInvoice, ZohoError",
        "from zoho_invoice.api.types import Invoice",
    ],
)
def test_the_api_client_loads_no_vault_tokens_sqlalchemy_alembic_or_fastapi(code: str) -> None:
    assert _loaded_after(code) == []


def test_a_vault_name_still_loads_the_vault_on_first_use() -> None:
    """The probe above sees these modules when they are loaded: the empty list is no accident."""
    assert _loaded_after("from zoho_invoice import Vault") == [
        "sqlalchemy",
        "alembic",
        "zoho_invoice.vault",
    ]


def test_star_import_and_attribute_access_give_every_public_name() -> None:
    code = (
        "import json, zoho_invoice\n"
        "namespace = {}\n"
        "exec('from zoho_invoice import *', namespace)\n"
        "print(json.dumps(sorted(n for n in namespace if n != '__builtins__')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert json.loads(done.stdout) == sorted(zoho_invoice.__all__)


def test_lazy_names_are_the_submodules_own_objects_and_listed_by_dir() -> None:
    from zoho_invoice.api import AsyncZohoInvoice
    from zoho_invoice.tokens import TokenManager
    from zoho_invoice.vault import Vault

    assert zoho_invoice.AsyncZohoInvoice is AsyncZohoInvoice
    assert zoho_invoice.TokenManager is TokenManager
    assert zoho_invoice.Vault is Vault
    assert zoho_invoice.vault.Vault is Vault  # the submodules stay reachable as attributes
    assert set(zoho_invoice.__all__) <= set(dir(zoho_invoice))


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no_such_name"):
        _ = zoho_invoice.no_such_name
