"""Stateful protocol resources mounted under a path: progress jobs, resume-request, byte-range
PATCH, IETF resumable uploads, tus, the reference demo, the upload store, the control API.

Each implements ``engine.resource.Resource``. May import ``errors``, ``http``, ``script`` and
``engine``; no I/O (docs/architecture.md).
"""
