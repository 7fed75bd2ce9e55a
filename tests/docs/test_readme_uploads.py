"""The README's upload examples run as written (they are the user's first contact)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support.paths import ROOT

README = ROOT / "README.md"


def _examples(section: str) -> list[str]:
    text = README.read_text()
    start = text.index(f"## {section}")
    end = text.index("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end], re.S)


@pytest.mark.parametrize(
    "section", ["Resumable uploads: the IETF draft", "Resumable uploads: tus 1.0"]
)
def test_readme_example_runs(section: str) -> None:
    [code] = _examples(section)
    exec(compile(code, f"README.md ({section})", "exec"), {})


def test_readme_scenario_loads(tmp_path: Path) -> None:
    import mockprogress as mp

    text = README.read_text()
    start = text.index("## Where uploads are kept")
    [toml] = re.findall(r"```toml\n(.*?)```", text[start : text.index("\n## ", start + 1)], re.S)
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
