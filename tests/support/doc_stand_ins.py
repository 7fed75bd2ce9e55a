"""Stand-ins for the code under test that the docs' pytest examples call.

The examples write ``my_client.create_job(url)``, ``my_client.upload(url, DATA)``,
``my_client.request(...)``, ``download(url)``: the reader's own client. These are small, honest
clients (httpx, and this suite's client of the wright drafts) that behave as a correct client
should, so the examples run as written (``tests/docs/test_python_examples.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from support import wright_client

#: The upload of the resumable-requests example: 150,000 bytes, so that a cut at 100,000 leaves
#: some to resume.
DATA = (bytes(range(256)) * 586)[:150_000]


class MyClientError(Exception):
    """What ``my_client`` raises when an exchange failed."""


class DownloadError(Exception):
    """What ``download`` raises for a truncated or broken download."""


@dataclass(frozen=True)
class Result:
    status: int
    body: bytes


class _MyClient:
    def create_job(self, url: str) -> Result:
        response = httpx.post(url)
        return Result(response.status_code, response.content)

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        timeout: float = 5.0,
    ) -> Result:
        try:
            response = httpx.request(
                method,
                url,
                headers=list(headers),
                content=body or None,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise MyClientError(str(exc)) from exc
        return Result(response.status_code, response.content)

    def upload(self, url: str, data: bytes) -> Result:
        """A resumable request (draft-wright-http-resume-request): POST with ``Expect:
        100-continue`` and ``Prefer: resume``, then HEAD and PATCH until the content is whole."""
        parts = urlsplit(url)
        assert parts.port is not None, url
        first = wright_client.post(parts.port, parts.path, data)
        if first.status is not None and first.status != 299:
            return Result(first.status, first.body)
        content, _ = wright_client.locations(first)
        final = wright_client.resume(parts.port, content, data).final
        if final.status is None:
            raise MyClientError(f"the upload to {url} failed: {final.error}")
        return Result(final.status, final.body)


my_client = _MyClient()


def download(url: str) -> bytes:
    """GET ``url``; a response that ends short of its promise is an error."""
    try:
        response = httpx.get(url, timeout=5.0)
    except httpx.HTTPError as exc:
        raise DownloadError(str(exc)) from exc
    return response.content
