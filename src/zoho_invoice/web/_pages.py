"""HTML answers of the browser routes, with the headers every one of them carries."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from ._context import WebContext

#: SECURITY 16: never cached, never leaks the callback URL as a referrer, never framed.
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}


def page(
    ctx: WebContext,
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    **context: Any,
) -> Response:
    """Render a Jinja2 page (autoescaped) with the security headers."""
    response = ctx.templates.TemplateResponse(
        request, template, {"app_name": "Zoho Invoice Connect", **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def problem_page(
    ctx: WebContext,
    request: Request,
    *,
    title: str,
    message: str,
    hint: str,
    status_code: int = 400,
) -> Response:
    """A failure page that says what happened and what to do next; never a secret in it."""
    return page(
        ctx,
        request,
        "problem.html",
        status_code=status_code,
        title=title,
        message=message,
        hint=hint,
    )


def redirect(url: str) -> Response:
    response = RedirectResponse(url, status_code=303)
    response.headers.update(SECURITY_HEADERS)
    return response
