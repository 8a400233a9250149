"""Points Komodo Health's SDK (the unmodified `komodo` package from PyPI)
at a test platform: requests to its login host, API hosts and connector
gateway go to the URL in `KOMODO_TEST_PLATFORM_URL` (scheme, host and port
replaced; path, query, headers and body untouched). Nothing else of the
package is changed.

Loaded by Python at start-up from `PYTHONPATH`; without the variable it
does nothing.
"""

import os
from urllib.parse import urlsplit, urlunsplit

_TARGET = os.environ.get("KOMODO_TEST_PLATFORM_URL")

#: The hosts the SDK reaches in its `production` environment.
HOSTS = frozenset(
    {
        "auth.komodohealth.com",  # login (device flow, JWKS)
        "api.komodohealth.com",  # IAM API
        "connector-gateway.onkomodo.com",  # warehouse gateway, service principals
        "api.khinternal.net",  # subscription service (GraphQL)
    }
)


def rewrite(url: str) -> str:
    """`url` with the scheme and authority of the test platform when its
    host is one of the SDK's."""
    parts = urlsplit(url)
    if not _TARGET or parts.hostname not in HOSTS:
        return url
    target = urlsplit(_TARGET)
    return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))


def _patch_httpx() -> None:
    try:
        import httpx
    except ImportError:
        return

    def redirect(request):
        new = rewrite(str(request.url))
        if new != str(request.url):
            request.url = httpx.URL(new)

    sync_send = httpx.HTTPTransport.handle_request
    async_send = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self, request):
        redirect(request)
        return sync_send(self, request)

    async def handle_async_request(self, request):
        redirect(request)
        return await async_send(self, request)

    httpx.HTTPTransport.handle_request = handle_request
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request


def _patch_requests(module: str) -> None:
    try:
        adapters = __import__(module, fromlist=["HTTPAdapter"])
    except ImportError:
        return
    send = adapters.HTTPAdapter.send

    def patched(self, request, *args, **kwargs):
        request.url = rewrite(request.url)
        return send(self, request, *args, **kwargs)

    adapters.HTTPAdapter.send = patched


if _TARGET:
    _patch_httpx()
    _patch_requests("requests.adapters")  # auth0's JWKS fetch
    _patch_requests("snowflake.connector.vendored.requests.adapters")  # the warehouse connector
