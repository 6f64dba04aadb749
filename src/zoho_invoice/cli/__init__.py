"""``zoho-invoice``: the service, the sandbox, the demo; keys, the database, connections.

Bad input or configuration ends with a one-line message on stderr and exit code 2, never a
traceback. ``main()`` is the console entry point.
"""

from ._app import app, main

__all__ = ["app", "main"]
