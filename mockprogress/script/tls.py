"""``mp.TLS(...)``: how the server speaks TLS, and how its handshake misbehaves.

.. code-block:: python

    mp.MockServer(tls=True)                                  # a valid certificate
    mp.MockServer(tls=mp.TLS(certificate="expired"))         # the client must refuse it
    mp.MockServer(tls=mp.TLS(client_certificate="required")) # mutual TLS
    mp.MockServer(tls=mp.TLS().cut(at=100, side="client"))   # read 100 bytes of ClientHello, FIN
    mp.MockServer(tls=mp.TLS(handshake="stall"))             # read the ClientHello, never answer

The certificate a client is meant to trust is always the throwaway CA's (``srv.ca_file``):
``"untrusted"`` is signed by another CA, ``"wrong-host"`` names another host, ``"expired"`` and
``"not-yet-valid"`` are outside their validity period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, TypeAlias

from ..errors import ScenarioError
from .checks import check_count
from .faults import FaultHow, FaultSpec

CertificateVariant: TypeAlias = Literal[
    "valid", "expired", "not-yet-valid", "wrong-host", "untrusted"
]
ClientCertificate: TypeAlias = Literal["optional", "required"]
TLSVersion: TypeAlias = Literal["1.2", "1.3"]
HandshakeSide: TypeAlias = Literal["client", "server"]

CERTIFICATES: tuple[CertificateVariant, ...] = (
    "valid",
    "expired",
    "not-yet-valid",
    "wrong-host",
    "untrusted",
)
#: TLS alert descriptions a handshake can be refused with (RFC 8446 §6.2), by name.
ALERTS = {
    "handshake_failure": 40,
    "bad_certificate": 42,
    "certificate_expired": 45,
    "illegal_parameter": 47,
    "access_denied": 49,
    "protocol_version": 70,
    "insufficient_security": 71,
    "internal_error": 80,
    "no_application_protocol": 120,
}


@dataclass(frozen=True, slots=True)
class HandshakeFault:
    """What goes wrong in the handshake.

    ``kind="cut"``: after exactly ``at`` bytes of the client's handshake were read
    (``side="client"``) or of the server's were written (``side="server"``), ``how`` ends the
    connection (FIN, RST, or silence for ``seconds``). ``kind="stall"``: the ClientHello is
    read and never answered. ``kind="alert"``: a fatal alert instead of the ServerHello, then
    a FIN.
    """

    kind: Literal["cut", "stall", "alert"]
    at: int = 0
    side: HandshakeSide = "client"
    how: FaultHow = "close"
    seconds: float | None = None
    alert: str = "handshake_failure"
    #: How the connection ends, validated as every fault's is (``script.faults``).
    spec: FaultSpec = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        how: FaultHow = "stall" if self.kind == "stall" else self.how
        spec = FaultSpec(how, self.seconds, "TLS().cut")
        object.__setattr__(self, "spec", spec)
        object.__setattr__(self, "how", spec.how)
        object.__setattr__(self, "seconds", spec.seconds)

    def describe(self) -> str:
        if self.kind == "stall":
            return "handshake stalled after the ClientHello"
        if self.kind == "alert":
            return f"fatal alert {self.alert} instead of the ServerHello"
        unit = "read of the client's" if self.side == "client" else "written of the server's"
        # A stall's seconds are added where it fires (``engine.faults.fire``).
        return f"{self.how} after {self.at} bytes {unit} handshake"


def alert_record(description: str) -> bytes:
    """A fatal TLS alert record in the clear (RFC 8446 §5.1, §6): what a server sends instead
    of its ServerHello when it refuses a handshake."""
    return bytes([21, 3, 3, 0, 2, 2, ALERTS[description]])


@dataclass(frozen=True, slots=True)
class TLS:
    """The server's TLS: its certificate, client certificates, ALPN, versions, and a fault."""

    certificate: CertificateVariant = "valid"
    client_certificate: ClientCertificate | None = None
    #: The protocols offered, in the server's order of preference (a list or a tuple; kept as
    #: a tuple).
    alpn: Sequence[str] = ("http/1.1",)
    minimum_version: TLSVersion | None = None
    maximum_version: TLSVersion | None = None
    handshake: HandshakeFault | Literal["stall", "alert"] | None = None

    def __post_init__(self) -> None:
        if self.certificate not in CERTIFICATES:
            raise ScenarioError(
                f"TLS certificate must be one of {', '.join(CERTIFICATES)}; "
                f"got {self.certificate!r}"
            )
        if self.client_certificate not in (None, "optional", "required"):
            raise ScenarioError(
                "TLS client_certificate must be None, 'optional' or 'required'; "
                f"got {self.client_certificate!r}"
            )
        alpn = self.alpn
        if not isinstance(alpn, list | tuple) or not all(map(_protocol_name, alpn)):
            raise ScenarioError(
                "TLS alpn must be a list of protocol names (1 to 255 ASCII characters each), "
                f"got {alpn!r}"
            )
        object.__setattr__(self, "alpn", tuple(alpn))
        for name in ("minimum_version", "maximum_version"):
            value = getattr(self, name)
            if value not in (None, "1.2", "1.3"):
                raise ScenarioError(f"TLS {name} must be '1.2' or '1.3', got {value!r}")
        if (self.minimum_version, self.maximum_version) == ("1.3", "1.2"):
            raise ScenarioError("TLS minimum_version is above maximum_version")
        if self.handshake == "stall":
            object.__setattr__(self, "handshake", HandshakeFault("stall"))
        elif self.handshake == "alert":
            object.__setattr__(self, "handshake", HandshakeFault("alert"))
        elif self.handshake is not None and not isinstance(self.handshake, HandshakeFault):
            raise ScenarioError(
                "TLS handshake must be 'stall', 'alert' or a fault from TLS().cut()/.alert(); "
                f"got {self.handshake!r}"
            )

    @property
    def fault(self) -> HandshakeFault | None:
        """The handshake fault, if any (``handshake`` normalised)."""
        fault = self.handshake
        return fault if isinstance(fault, HandshakeFault) else None

    def cut(
        self,
        at: int,
        side: HandshakeSide = "client",
        how: Literal["close", "reset", "stall"] = "close",
        *,
        seconds: float | None = None,
    ) -> TLS:
        """End the handshake after exactly ``at`` bytes read of the client's handshake
        (``side="client"``) or written of the server's (``side="server"``)."""
        check_count(at, "TLS().cut(at=...)")
        if side not in ("client", "server"):
            raise ScenarioError(f"TLS().cut side must be 'client' or 'server', got {side!r}")
        return replace(self, handshake=HandshakeFault("cut", at, side, how, seconds))

    def alert(self, description: str = "handshake_failure") -> TLS:
        """Answer the ClientHello with a fatal alert (RFC 8446 §6.2) instead of a ServerHello."""
        if description not in ALERTS:
            raise ScenarioError(
                f"unknown TLS alert {description!r}; known: {', '.join(sorted(ALERTS))}"
            )
        return replace(self, handshake=HandshakeFault("alert", alert=description))


def _protocol_name(name: object) -> bool:
    """An ALPN protocol name: 1 to 255 bytes (RFC 7301 §3.1), ASCII (Python's ssl encodes
    it so)."""
    return isinstance(name, str) and name.isascii() and 0 < len(name) < 256


def tls_spec(value: object) -> TLS | None:
    """``MockServer(tls=...)``: False/None for plain TCP, True for ``TLS()``, or a ``TLS``."""
    if value is None or value is False:
        return None
    if value is True:
        return TLS()
    if isinstance(value, TLS):
        return value
    raise ScenarioError(f"tls must be True, False or mp.TLS(...), got {value!r}")
