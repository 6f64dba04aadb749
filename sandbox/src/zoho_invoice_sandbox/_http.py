"""The one place in the sandbox that names its HTTP library (the control clients use it).

The sandbox stands in for Zoho and depends on nothing of ``zoho_invoice``: this is its own copy
of ``zoho_invoice._http`` (one line). httpx2 is the maintained fork of httpx with the same API.
"""

import httpx2 as httpx

__all__ = ["httpx"]
