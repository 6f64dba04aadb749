"""The one place that names our HTTP library.

httpx2 is the maintained fork of httpx with the same API. Every module imports ``httpx`` from
here, so switching the implementation is a one-line change.
"""

import httpx2 as httpx

__all__ = ["httpx"]
