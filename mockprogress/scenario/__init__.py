"""Scenario files: TOML or JSON documents translated into the objects the Python API builds
(expectations, steps, resources), naming the file and key of every mistake: ``document``
reads files and builds expectations, ``steps`` and ``resources`` hold the builders and their
literal tables, ``keys`` reads one value at a key path.

The top of the pure core: may import ``errors``, ``http``, ``script``, ``engine`` and
``resources``; no I/O beyond reading the file it is given (docs/architecture.md).
"""
