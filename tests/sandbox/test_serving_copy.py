"""Unit test: the sandbox's copy of the service's server bounds (``_serving``) is the same code.

The sandbox depends on nothing of ``zoho_invoice`` (it stands in for Zoho, and installs alone),
so it carries its own copy of the body limit and the bounded uvicorn protocol (SECURITY 47, 51).
A fix made to one copy only would leave the other open: this test fails until both agree.
"""

from __future__ import annotations

import ast
import importlib
import inspect


def _code_without_docstring(module_name: str) -> str:
    tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return ast.dump(ast.Module(body=body, type_ignores=[]))


def test_sandbox_serving_is_the_services_serving_code() -> None:
    ours = _code_without_docstring("zoho_invoice._serving")
    sandbox = _code_without_docstring("zoho_invoice_sandbox._serving")
    assert sandbox == ours
