"""``zoho-invoice sandbox``: run the Zoho sandbox, or fill its organizations with data.

The sandbox is imported inside the commands: it is an optional part (the ``sandbox`` extra),
and the rest of the CLI works without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .._http import httpx
from ._common import HostOption, PortOption, fail, out, setup_logging

__all__ = ["sandbox_app", "seed_sandbox_folder"]

sandbox_app = typer.Typer(
    help="The Zoho sandbox: run it (Zoho Accounts and the Invoice API), or seed its data.",
    invoke_without_command=True,
)


@sandbox_app.callback()
def sandbox(
    ctx: typer.Context,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8090,
    data_dir: Annotated[
        Path | None, typer.Option(help="Keep the sandbox's state in this folder.")
    ] = None,
    datacenters_out: Annotated[
        Path | None,
        typer.Option(help="Write the data-centre table (for ZOHO_DATACENTERS) to this file."),
    ] = None,
) -> None:
    """Run the Zoho sandbox: Zoho Accounts for every data centre and the Invoice API.

    Its control routes (/_sandbox/journal, faults, ...) need the header X-Sandbox-Key:
    $ZOHO_SANDBOX_CONTROL_KEY, or the key it prints when it starts.
    """
    if ctx.invoked_subcommand is not None:
        return
    setup_logging()
    from zoho_invoice_sandbox import serve_sandbox  # the optional sandbox part, loaded when run

    try:
        serve_sandbox(host=host, port=port, data_dir=data_dir, datacenters_out=datacenters_out)
    except OSError as exc:
        fail(f"cannot start the sandbox on {host}:{port}: {exc.strerror or exc}")


CountOption = Annotated[int, typer.Option(min=0, max=100_000)]


@sandbox_app.command("seed")
def sandbox_seed(
    organization: Annotated[
        str, typer.Option(help="The simulated organization's id, or `all` for every one.")
    ],
    data_dir: Annotated[
        Path | None, typer.Option(help="The sandbox's data folder (it may be running).")
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A running sandbox's base URL, e.g. http://127.0.0.1:8090.")
    ] = None,
    contacts: CountOption = 50,
    items: CountOption = 20,
    invoices: CountOption = 200,
    seed: Annotated[int, typer.Option(help="Same seed, same day: same data.")] = 0,
) -> None:
    """Fill sandbox organizations with contacts, items and invoices (with their payments)."""
    if (data_dir is None) == (url is None):
        fail("give exactly one of --data-dir (the sandbox's folder) or --url (a running sandbox)")
    counts = {"contacts": contacts, "items": items, "invoices": invoices, "seed": seed}
    if url is not None:
        results = _seed_running(url, organization, counts)
    else:
        assert data_dir is not None
        try:
            results = seed_sandbox_folder(data_dir, organization, **counts)
        except LookupError as exc:
            fail(str(exc))
    for result in results:
        out.print(
            f"organization {result['organization_id']}: {result['contacts']} contacts, "
            f"{result['items']} items, {result['invoices']} invoices, "
            f"{result['payments']} payments",
            highlight=False,
        )


def _seed_running(url: str, organization: str, counts: dict[str, int]) -> list[dict[str, object]]:
    """Seed through a running sandbox's control routes; ``all`` asks it for its organizations
    (``SandboxControl.users()``, a route that needs no control key)."""
    from zoho_invoice_sandbox import SandboxControl  # the optional sandbox part, loaded when run
    from zoho_invoice_sandbox.invoice import InvoiceSandboxControl

    results: list[dict[str, object]] = []
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=120) as http:
            if organization == "all":
                directory = SandboxControl(http).users()
                org_ids = sorted(str(o["organization_id"]) for o in directory["organizations"])
            else:
                org_ids = [organization]
            control = InvoiceSandboxControl(http)
            for org_id in org_ids:
                results.append(control.seed(org_id, **counts).to_json())
    except httpx.HTTPStatusError as exc:
        fail(f"the sandbox refused: HTTP {exc.response.status_code} {exc.response.text[:200]}")
    except httpx.HTTPError as exc:
        fail(f"cannot reach the sandbox at {url}: {type(exc).__name__}")
    except RuntimeError as exc:  # SandboxControl's words for an error answer
        fail(str(exc))
    return results


def seed_sandbox_folder(
    data_dir: Path,
    organization: str,
    *,
    contacts: int = 50,
    items: int = 20,
    invoices: int = 200,
    seed: int = 0,
) -> list[dict[str, object]]:
    """Seed organizations in the sandbox data folder ``data_dir`` (``all``: every one).

    A running sandbox on that folder sees the rows at once (the same SQLite file).
    ``LookupError`` names the known organizations when ``organization`` is not one of them.
    """
    from zoho_invoice_sandbox import seed_folder  # the optional sandbox part, loaded when run

    return seed_folder(
        data_dir, organization, contacts=contacts, items=items, invoices=invoices, seed=seed
    )
