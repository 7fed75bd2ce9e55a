"""What a test writes: steps, the fault specs, ``Expect: 100-continue`` policies, WebSocket
scripts and malformed-framing helpers. Frozen values, validated when they are built.

May import ``mockprogress.errors`` and ``mockprogress.http``; no I/O, and nothing of the
engine that carries the scripts out (docs/architecture.md).
"""
