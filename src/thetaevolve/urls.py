"""The one check of what ``llm.base_url`` may hold: http(s) URLs, several separated by commas.

The config validates it at load time, so that a mistyped URL stops a run before any work,
and the HTTP proposer splits it into its replicas; both read it through here so that the
two can never disagree on what a valid address is.
"""

from __future__ import annotations

from urllib.parse import urlparse


def split_urls(text: str) -> list[str]:
    """The comma-separated URLs of ``text``, stripped, without a trailing slash; empty
    pieces are dropped."""
    return [u.strip().rstrip("/") for u in text.split(",") if u.strip()]


def is_http_url(url: str) -> bool:
    """Whether ``url`` is an http or https URL that names a host."""
    parsed = urlparse(url)
    return parsed.scheme in ("http", "https") and bool(parsed.hostname)
