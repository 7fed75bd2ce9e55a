"""Scenario files: TOML or JSON documents translated into the objects the Python API builds
(expectations, steps, resources), naming the file and key of every mistake.

The top of the pure core: may import ``errors``, ``http``, ``script``, ``engine`` and
``resources``; no I/O beyond reading the file it is given (docs/architecture.md).
"""
