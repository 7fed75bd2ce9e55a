"""The HTTP field layer: header fields parsed and formatted (``Headers``, ``Progress``,
``Prefer``, ``Content-Range``, ``message/byterange``, structured fields, reason phrases).

Pure functions and values, the leaves of the tree: this layer may import nothing of
mockprogress but ``mockprogress.errors``, and no I/O (docs/architecture.md).
"""
