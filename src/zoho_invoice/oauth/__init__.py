"""OAuth with Zoho Accounts: PKCE, ``state``, the authorize URL, code exchange, refresh, revoke.

>>> verifier = make_code_verifier()
>>> state = new_state()
>>> url = client.authorization_url(state=state, code_challenge=code_challenge(verifier))
... # doctest: +SKIP
"""

from ._client import AsyncOAuthClient, BaseOAuthClient, OAuthClient
from ._parse import parse_token_response
from ._pkce import code_challenge, make_code_verifier, new_state
from ._types import Grant, TokenSet

__all__ = [
    "AsyncOAuthClient",
    "BaseOAuthClient",
    "Grant",
    "OAuthClient",
    "TokenSet",
    "code_challenge",
    "make_code_verifier",
    "new_state",
    "parse_token_response",
]
