"""``zoho-invoice-sandbox``: serve the sandbox, or seed its organizations' data.

``zoho-invoice-sandbox [serve] [--host H] [--port P] [--data-dir D] [--datacenters-out F]``
runs it until interrupted; ``zoho-invoice-sandbox seed --organization ID|all (--data-dir D |
--url URL) [--contacts N] [--items N] [--invoices N] [--seed S]`` fills organizations with
contacts, items and invoices. ``zoho-invoice sandbox`` (the main package's CLI) does the same.
argparse, not typer: the sandbox installs with nothing but its server's dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._files import ensure_private_dir
from ._http import httpx
from ._world import SandboxWorld
from .invoice import InvoiceSandboxControl, seed_organization

__all__ = ["main", "seed_folder"]


def seed_folder(
    data_dir: Path,
    organization: str,
    *,
    contacts: int = 50,
    items: int = 20,
    invoices: int = 200,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Seed organizations in the sandbox data folder ``data_dir`` (``all``: every one).

    A sandbox running on that folder sees the rows at once (the same SQLite file).
    ``LookupError`` names the known organizations when ``organization`` is not one of them.
    """
    ensure_private_dir(data_dir)
    world = SandboxWorld(base_url="http://127.0.0.1", data_dir=data_dir)
    try:
        known = [org.organization_id for org in world.directory.organizations]
        if organization != "all" and organization not in known:
            raise LookupError(
                f"no simulated organization {organization!r}; known: {', '.join(known)} (or all)"
            )
        org_ids = known if organization == "all" else [organization]
        return [
            seed_organization(
                world, org_id, contacts=contacts, items=items, invoices=invoices, seed=seed
            ).to_json()
            for org_id in org_ids
        ]
    finally:
        world.close()


def _seed_url(url: str, organization: str, counts: dict[str, int]) -> list[dict[str, Any]]:
    """Seed through a running sandbox's control endpoint (``/api/_sandbox/seed``)."""
    with httpx.Client(base_url=url.rstrip("/"), timeout=120) as http:
        if organization == "all":
            listed = http.get("/_sandbox/users")
            listed.raise_for_status()
            org_ids = [str(org["organization_id"]) for org in listed.json()["organizations"]]
        else:
            org_ids = [organization]
        control = InvoiceSandboxControl(http)
        return [control.seed(org_id, **counts).to_json() for org_id in org_ids]


def _count(text: str) -> int:
    """A count from 0 to 100,000 (a larger one would hold the sandbox for minutes)."""
    value = int(text)
    if not 0 <= value <= 100_000:
        raise argparse.ArgumentTypeError("must be from 0 to 100000")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoho-invoice-sandbox",
        description="A local Zoho: Zoho Accounts for every data centre and the Invoice API.",
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser(
        "serve",
        help="run the sandbox (the default command)",
        description="Run the sandbox. Its control routes (/_sandbox/journal, faults, ...) need "
        "the header X-Sandbox-Key: $ZOHO_SANDBOX_CONTROL_KEY, or the key it prints at start.",
    )
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8090)
    serve.add_argument("--data-dir", type=Path, help="keep the sandbox's state in this folder")
    serve.add_argument(
        "--datacenters-out",
        type=Path,
        help="write the data-centre table (for ZOHO_DATACENTERS) to this file",
    )
    seed = commands.add_parser(
        "seed", help="fill organizations with contacts, items and invoices (with payments)"
    )
    seed.add_argument(
        "--organization", required=True, help="the organization's id, or `all` for every one"
    )
    where = seed.add_mutually_exclusive_group(required=True)
    where.add_argument("--data-dir", type=Path, help="the sandbox's folder (it may be running)")
    where.add_argument("--url", help="a running sandbox's base URL, e.g. http://127.0.0.1:8090")
    for name, default in (("contacts", 50), ("items", 20), ("invoices", 200)):
        seed.add_argument(f"--{name}", type=_count, default=default, metavar="N")
    seed.add_argument("--seed", type=int, default=0, help="same seed, same day: same data")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; the exit status (1 with a one-line message on stderr when it fails)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if not args_list or (args_list[0].startswith("-") and args_list[0] not in ("-h", "--help")):
        args_list.insert(0, "serve")
    args = _parser().parse_args(args_list)
    if args.command == "serve":
        from ._server import serve_sandbox

        try:
            serve_sandbox(args.host, args.port, args.data_dir, args.datacenters_out)
        except OSError as exc:
            print(
                f"cannot start the sandbox on {args.host}:{args.port}: {exc.strerror or exc}",
                file=sys.stderr,
            )
            return 1
        return 0
    counts = {
        "contacts": args.contacts,
        "items": args.items,
        "invoices": args.invoices,
        "seed": args.seed,
    }
    try:
        if args.url is not None:
            results = _seed_url(args.url, args.organization, counts)
        else:
            results = seed_folder(args.data_dir, args.organization, **counts)
    except LookupError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except httpx.HTTPStatusError as exc:
        answer = exc.response
        print(
            f"the sandbox refused: HTTP {answer.status_code} {answer.text[:200]}", file=sys.stderr
        )
        return 1
    except httpx.HTTPError as exc:
        print(f"cannot reach the sandbox at {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 1
    for result in results:
        print(
            f"organization {result['organization_id']}: {result['contacts']} contacts, "
            f"{result['items']} items, {result['invoices']} invoices, "
            f"{result['payments']} payments"
        )
    return 0
