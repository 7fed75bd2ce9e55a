"""TLS for the server: a throwaway certificate authority, the server's SSL contexts, and one
connection's TLS over memory BIOs.

The CA is made once per process (``authority()``), with ``trustme``: every ``MockServer(tls=...)``
of a test session shares it, so ``srv.ca_file`` names the same PEM file for all of them and a
client configured once (``REQUESTS_CA_BUNDLE``, ``NODE_EXTRA_CA_CERTS``) trusts every server.
The leaf certificates (one per ``mp.TLS(certificate=...)`` variant) and the contexts built from
them are cached too: a server with ``tls=True`` costs a context look-up, not a key pair.

TLS runs on the standard ``ssl`` module through memory BIOs (``TLSChannel``): the driver moves
ciphertext between the socket and the BIOs itself, so it decides exactly how many bytes of a
handshake are read or written before a fault, and cuts, drips and ``read_body(upto=N)`` count
plaintext bytes exactly as on plain TCP.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import os
import ssl
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

import trustme

from ..engine.journal import TLSRecord
from ..script.tls import TLS

#: The names a valid certificate is issued for: what ``srv.url()`` may say.
SERVER_NAMES = ("127.0.0.1", "::1", "localhost")
#: The name a "wrong-host" certificate is issued for instead.
WRONG_HOST = "wrong-host.invalid"
_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


class CertificateAuthority:
    """The throwaway CA of this process, the certificates it issued, and their files.

    Every ``MockServer(tls=...)`` shares it; the pytest fixture ``mockprogress_ca`` hands it to
    a test session (``ca_file`` for ``REQUESTS_CA_BUNDLE``, ``SSL_CERT_FILE``,
    ``NODE_EXTRA_CA_CERTS`` or ``curl --cacert``).
    """

    def __init__(self) -> None:
        self.ca = trustme.CA(organization_name="mockprogress throwaway CA")
        # Signs the "untrusted" variant: a CA no client was told to trust.
        self.other_ca = trustme.CA(organization_name="mockprogress untrusted CA")
        self._dir = tempfile.mkdtemp(prefix="mockprogress-ca-")
        atexit.register(self._remove_files)
        self.ca_file = self._write("ca.pem", self.ca.cert_pem.bytes())
        self._leaves: dict[str, trustme.LeafCert] = {}
        self._contexts: dict[TLS, ssl.SSLContext] = {}
        self._client_files: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()

    def _write(self, name: str, data: bytes) -> str:
        path = os.path.join(self._dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def _remove_files(self) -> None:
        for name in os.listdir(self._dir):
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self._dir, name))
        with contextlib.suppress(OSError):
            os.rmdir(self._dir)

    def _leaf(self, variant: str) -> trustme.LeafCert:
        leaf = self._leaves.get(variant)
        if leaf is None:
            now = datetime.datetime.now(datetime.UTC)
            day = datetime.timedelta(days=1)
            if variant == "expired":
                leaf = self.ca.issue_cert(
                    *SERVER_NAMES, not_before=now - 30 * day, not_after=now - day
                )
            elif variant == "not-yet-valid":
                leaf = self.ca.issue_cert(
                    *SERVER_NAMES, not_before=now + day, not_after=now + 30 * day
                )
            elif variant == "wrong-host":
                leaf = self.ca.issue_cert(WRONG_HOST)
            elif variant == "untrusted":
                leaf = self.other_ca.issue_cert(*SERVER_NAMES)
            else:
                leaf = self.ca.issue_cert(*SERVER_NAMES)
            self._leaves[variant] = leaf
        return leaf

    def server_context(self, spec: TLS) -> ssl.SSLContext:
        """The server's context for ``spec`` (cached: specs are frozen)."""
        with self._lock:
            context = self._contexts.get(spec)
            if context is None:
                context = self._build(spec)
                self._contexts[spec] = context
            return context

    def _build(self, spec: TLS) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._leaf(spec.certificate).configure_cert(context)
        if spec.minimum_version is not None:
            context.minimum_version = _VERSIONS[spec.minimum_version]
        if spec.maximum_version is not None:
            context.maximum_version = _VERSIONS[spec.maximum_version]
        if spec.alpn:
            context.set_alpn_protocols(list(spec.alpn))
        if spec.client_certificate is not None:
            self.ca.configure_trust(context)
            context.verify_mode = (
                ssl.CERT_REQUIRED if spec.client_certificate == "required" else ssl.CERT_OPTIONAL
            )
        context.sni_callback = _remember_server_name
        return context

    def client_context(self, *, certificate: str | None = None) -> ssl.SSLContext:
        """A client context that trusts this CA; with ``certificate``, it also presents a
        client certificate issued by the CA for that name (mutual TLS)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if certificate is not None:
            cert, key = self.client_certificate_files(certificate)
            context.load_cert_chain(cert, key)
        return context

    def client_certificate_files(self, name: str = "client") -> tuple[str, str]:
        """PEM files (certificate, private key) of a client certificate for ``name`` issued
        by the CA: for ``curl --cert C --key K`` or any client outside Python."""
        with self._lock:
            files = self._client_files.get(name)
            if files is None:
                leaf = self.ca.issue_cert(
                    name,
                    common_name=name,
                    organization_name="mockprogress",
                    organization_unit_name="client certificate",
                )
                safe = "".join(c if c.isalnum() else "_" for c in name)
                cert = self._write(
                    f"client-{safe}.pem", b"".join(b.bytes() for b in leaf.cert_chain_pems)
                )
                key = self._write(f"client-{safe}.key", leaf.private_key_pem.bytes())
                files = self._client_files[name] = (cert, key)
            return files


_AUTHORITY: CertificateAuthority | None = None
_AUTHORITY_LOCK = threading.Lock()


def authority() -> CertificateAuthority:
    """This process's CA, made on first use."""
    global _AUTHORITY
    with _AUTHORITY_LOCK:
        if _AUTHORITY is None:
            _AUTHORITY = CertificateAuthority()
        return _AUTHORITY


# The SNI callback learns the name a client asked for; the channel reads it back from here.
_SERVER_NAMES: dict[int, str] = {}


def _remember_server_name(
    obj: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: ssl.SSLContext
) -> None:
    if name is not None:
        _SERVER_NAMES[id(obj)] = name


@dataclass(slots=True)
class HandshakeFailed(Exception):
    """The handshake ended without a TLS session: the client refused or broke it."""

    reason: str


class TLSChannel:
    """One connection's TLS state: ciphertext in and out through memory BIOs, plaintext
    read and written by the driver."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self._in = ssl.MemoryBIO()
        self._out = ssl.MemoryBIO()
        self._obj = context.wrap_bio(self._in, self._out, server_side=True)
        self.handshake_done = False

    def feed(self, ciphertext: bytes) -> None:
        """Bytes read from the socket (``b""``: the client closed its side)."""
        if ciphertext:
            self._in.write(ciphertext)
        else:
            self._in.write_eof()

    def output(self) -> bytes:
        """Ciphertext to write to the socket, now."""
        return self._out.read()

    def handshake(self) -> bool:
        """Advance the handshake; True once it is done.

        :raises HandshakeFailed: the client sent an alert or broke the protocol.
        """
        try:
            self._obj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        except (ssl.SSLError, ssl.SSLEOFError) as exc:
            raise HandshakeFailed(_reason(exc)) from None
        self.handshake_done = True
        return True

    def read(self, max_bytes: int) -> bytes | None:
        """Plaintext, at most ``max_bytes``; None when more ciphertext is needed, ``b""`` at the
        end of the stream (a close_notify, or the client's FIN without one)."""
        try:
            return self._obj.read(max_bytes)
        except ssl.SSLWantReadError:
            return None
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""
        except ssl.SSLError:
            return b""

    def buffered(self) -> int:
        """Plaintext and ciphertext received and not yet read (an estimate of body bytes)."""
        return self._obj.pending() + self._in.pending

    def write(self, plaintext: bytes) -> None:
        self._obj.write(plaintext)

    def close_notify(self) -> None:
        """Queue the close_notify alert (its ciphertext comes out of ``output()``)."""
        with contextlib.suppress(ssl.SSLError):
            self._obj.unwrap()

    def record(self) -> TLSRecord:
        """What the handshake settled, for the journal."""
        cipher = self._obj.cipher()
        peer = self._obj.getpeercert() if self.handshake_done else None
        subject = None
        if peer:
            subject_rdns: Any = peer.get("subject", ())
            parts = [f"{k}={v}" for rdn in subject_rdns for k, v in rdn]
            subject = ", ".join(parts) or None
        return TLSRecord(
            version=self._obj.version() or "",
            cipher=cipher[0] if cipher else "",
            server_name=_SERVER_NAMES.pop(id(self._obj), None),
            alpn=self._obj.selected_alpn_protocol(),
            peer_subject=subject,
        )


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower() if reason else str(exc)
