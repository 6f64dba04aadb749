"""``python -m zoho_invoice_sandbox``: the same as the ``zoho-invoice-sandbox`` command."""

from ._cli import main

raise SystemExit(main())
