"""The sans-IO engine: connections and exchanges as programs that yield actions (``actions``),
matching, server state, the journal and its renderings, and the ``Resource`` interface that
stateful resources implement.

May import ``errors``, ``http`` and ``script``. No sockets, TLS, threads, clocks or event
loops: time and bytes reach it through the actions the I/O layer carries out
(docs/architecture.md).
"""
