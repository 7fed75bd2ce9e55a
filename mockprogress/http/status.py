"""Reason phrases: every status line mockprogress writes carries one."""

from __future__ import annotations

from http import HTTPStatus

# Codes the stdlib does not name: drafts and the reference demo's dialect.
_EXTRA = {
    104: "Upload Resumption Supported",  # draft-ietf-httpbis-resumable-upload §5
    # RFC 9110 renamed these; Python 3.11's HTTPStatus still has the RFC 7231 phrases.
    413: "Content Too Large",
    414: "URI Too Long",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
    199: "Acknowledge",  # awwright/http-progress demo
    299: "Incomplete Resource",  # awwright/http-progress demo (the drafts' "2__")
    460: "Checksum Mismatch",  # tus 1.0 checksum extension
}
_CLASS = {1: "Informational", 2: "Success", 3: "Redirection", 4: "Client Error", 5: "Server Error"}


def reason_phrase(status: int) -> str:
    """The usual reason phrase for ``status``, or the name of its class for unknown codes."""
    if status in _EXTRA:
        return _EXTRA[status]
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return _CLASS.get(status // 100, "Unknown")
