"""OAuth with Zoho Accounts: PKCE, ``state``, the authorize URL, code exchange, refresh, revoke.

>>> verifier = make_code_verifier()
>>> state = new_state()
>>> url = client.authorization_url(state=state, code_challenge=code_challenge(verifier))
... # doctest: +SKIP
"""

from ._client import AsyncOAuthClient, OAuthClient
from ._pkce import code_challenge, make_code_verifier, new_state
from ._types import TokenSet

__all__ = [
    "AsyncOAuthClient",
    "OAuthClient",
    "TokenSet",
    "code_challenge",
    "make_code_verifier",
    "new_state",
]
