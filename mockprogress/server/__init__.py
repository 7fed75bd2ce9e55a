"""The only I/O: the listener, the connection driver that carries out the engine's actions on
a socket, the thread portal of thread mode, and ``MockServer``.

May import every core layer (``errors``, ``http``, ``script``, ``engine``, ``resources``,
``scenario``), never an adapter (``standalone``, ``testing``, the pytest plugin)
(docs/architecture.md).
"""
