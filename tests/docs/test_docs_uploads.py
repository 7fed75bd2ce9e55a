"""docs/uploads.md's scenario example builds what it says: the four upload resources, each with
its store (``test_toml_examples.py`` loads every TOML example; this one checks what it built).
The page's Python examples run in ``test_python_examples.py``."""

from __future__ import annotations

from pathlib import Path

from support.doc_examples import DOCS, blocks

import mockprogress as mp

PAGE = DOCS / "uploads.md"


def test_the_upload_store_scenario_loads(tmp_path: Path) -> None:
    [toml] = [
        b.text for b in blocks(PAGE) if b.lang == "toml" and b.section == "Where uploads are kept"
    ]
    path = tmp_path / "uploads.toml"
    path.write_text(toml)
    with mp.MockServer() as srv:
        ietf, tus, wright, documents = srv.load(path)
        assert isinstance(ietf, mp.ResumableUploads) and isinstance(tus, mp.TusUploads)
        assert isinstance(wright, mp.ResumableRequests)
        assert isinstance(documents, mp.ByteRangeResource)
        assert (tmp_path / "uploads").is_dir()
        assert isinstance(wright.store, mp.DirectoryUploadStore)
        assert wright.store.directory == tmp_path / "wright-uploads"
        assert documents.store.spool_threshold == 65536


def test_the_readme_links_the_uploads_page() -> None:
    assert "docs/uploads.md" in (DOCS.parent / "README.md").read_text()
