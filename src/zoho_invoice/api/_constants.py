"""Defaults of the API client, in one place (Zoho's own codes: ``zoho_invoice._zoho_codes``)."""

from __future__ import annotations

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_RETRIES = 2
#: First back-off delay and its ceiling, in seconds (doubles every attempt, jittered).
INITIAL_RETRY_DELAY = 0.5
MAX_RETRY_DELAY = 8.0
#: A server-given wait (Retry-After, X-Rate-Limit-Reset) longer than this is not waited out.
MAX_SERVER_WAIT = 60.0
#: Zoho's largest page.
MAX_PER_PAGE = 200
#: Zoho allows 100 requests a minute per organization, retries included: a bucket of 90 a
#: minute plus a burst of 5 sends at most 95 in any minute, keeping headroom for the
#: organization's other integrations and for clocks that disagree.
DEFAULT_RATE = 90
DEFAULT_WINDOW = 60.0
DEFAULT_BURST = 5
#: Zoho's free plan allows 5 requests in flight per organization (code 1070 beyond).
DEFAULT_MAX_CONCURRENCY = 5

ORG_HEADER = "X-com-zoho-invoice-organizationid"
AUTH_SCHEME = "Zoho-oauthtoken"
