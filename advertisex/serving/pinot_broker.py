"""A DB-API connection to a Pinot broker from its URL: the one parser of broker addresses."""

from __future__ import annotations

from urllib.parse import urlsplit

import pinotdb


def broker_connection(url: str, timeout: float = 30.0):
    """(the broker's normalized URL, a pinotdb connection); ValueError names a bad URL."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not a URL like http://127.0.0.1:8099")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 8099)
    except ValueError:
        raise ValueError(f"{url!r} has a bad port") from None
    connection = pinotdb.connect(
        host=parts.hostname, port=port, path="/query/sql", scheme=parts.scheme, timeout=timeout
    )
    return f"{parts.scheme}://{parts.hostname}:{port}", connection
