"""Stateful protocol resources mounted under a path: progress jobs, resume-request, byte-range
PATCH, IETF resumable uploads, tus, the reference demo, the upload store, the control API.

Each implements ``engine.resource.Resource``. The upload resources (``tus``,
``resumable_upload``: the IETF draft, ``resume_request`` and ``byterange_patch``: the wright
drafts) build on one framework, ``uploads``: one base class, one body reader, one rule for
counting requests towards ``mp.interrupt``.

May import ``errors``, ``http``, ``script`` and ``engine``; no I/O (docs/architecture.md).
"""
