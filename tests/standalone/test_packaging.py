"""The package as a user installs it: a wheel, or editable from a checkout (setuptools' default
mode, ``compat`` and ``strict``). In each, ``mockprogress serve`` finds its demo set and mypy
in the user's project finds the typed package.

The demo set lives in the package (``mockprogress/fixtures``). Before, it was mapped in from
``fixtures/`` by ``package-dir``: that mapping made setuptools' editable install an import hook,
which type checkers do not run (mypy: "Cannot find implementation or library stub"), and with
``editable_mode=compat`` the demo set was not found at all. ``package-dir = {"" = "."}`` has
the editable install add the checkout to ``sys.path`` instead, which mypy reads.

Each install goes into a fresh venv in a temporary directory, offline: the build runs without
isolation on the suite's setuptools, and the venv reaches the suite's packages (anyio, h11,
setuptools, ...) through a ``.pth`` line, so nothing is downloaded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import urllib.request
import venv
import zipfile
from pathlib import Path
from subprocess import PIPE

import pytest
from support.paths import ROOT
from support.standalone import READY

USE = "import mockprogress as mp\n\nreveal_type(mp.MockServer)\n"
REVEALED = 'Revealed type is "def (host: str =, port: int ='
RETURNS = ') -> mockprogress.server.server.MockServer"'


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
    return done


def pip(*args: str | Path) -> None:
    """The suite's pip, offline, building without isolation on the suite's setuptools."""
    run(sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args)


def install(python: Path, *args: str | Path) -> None:
    """Install into ``python``'s environment; nothing of the suite's environment (which it
    sees) is uninstalled (``--ignore-installed``)."""
    offline = ("--no-index", "--no-deps", "--no-build-isolation", "--ignore-installed")
    pip("--python", python, "install", *offline, *args)


def fresh_venv(where: Path) -> Path:
    """A venv without pip that sees the suite's installed packages after its own."""
    venv.EnvBuilder(with_pip=False).create(where)
    python = where / "bin" / "python"
    shown = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    site = Path(shown.stdout.strip())
    suite = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    # Sorted after __editable__*.pth, so an editable install comes before the suite's paths.
    (site / "zz_suite_packages.pth").write_text("".join(f"{p}\n" for p in sorted(suite)))
    return python


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What a build needs of the repository, copied so that the build's egg-info and build/
    land in a temporary directory."""
    src = tmp_path_factory.mktemp("checkout")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "mockprogress", src / "mockprogress", ignore=ignore)
    return src


@pytest.fixture(scope="module")
def wheel(checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    pip("wheel", "--no-index", "--no-deps", "--no-build-isolation", "-w", dist, checkout)
    (built,) = dist.glob("mockprogress-*.whl")
    return built


def test_the_wheel_holds_the_demo_set_and_the_type_marker(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mockprogress/py.typed" in names
    demo = ROOT / "mockprogress" / "fixtures"
    expected = {f"mockprogress/fixtures/{p.name}" for p in demo.glob("*.toml")}
    assert len(expected) >= 10 and expected <= names
    assert "mockprogress/fixtures/__init__.py" in names
    # The live view's files (docs/ui.md), served from the package.
    assert {f"mockprogress/ui/{n}" for n in ("index.html", "app.js", "app.css")} <= names
    assert not any(name.startswith(("fixtures/", "tests/")) for name in names)


@pytest.mark.parametrize("mode", ["wheel", "editable", "editable-compat", "editable-strict"])
def test_serve_finds_the_demo_set_and_mypy_finds_the_package(
    mode: str, checkout: Path, wheel: Path, tmp_path: Path
) -> None:
    python = fresh_venv(tmp_path / "venv")
    if mode == "wheel":
        install(python, wheel)
        home = tmp_path / "venv"
    else:
        _, _, editable_mode = mode.partition("-")
        settings = [f"--config-settings=editable_mode={editable_mode}"] if editable_mode else []
        install(python, *settings, "-e", checkout)
        home = checkout
    project = tmp_path / "project"  # the user's project: neither the checkout nor the venv
    project.mkdir()

    shown = "import mockprogress.standalone.cli as c; print(c.demo_files()[0])"
    where = run(python, "-c", shown, cwd=project).stdout.strip()
    assert Path(where).name == "00-index.toml"
    if mode == "wheel":
        assert Path(where).is_relative_to(home), where  # the installed copy, not the checkout

    script = tmp_path / "venv" / "bin" / "mockprogress"
    served = subprocess.Popen([script, "serve", "--port", "0"], cwd=project, stdout=PIPE, text=True)
    try:
        assert served.stdout is not None
        first = served.stdout.readline().rstrip("\n")
        ready = READY.match(first)
        assert ready, first
        with urllib.request.urlopen(ready.group(1) + "/", timeout=10) as response:
            index = response.read().decode()
        assert index.startswith("mockprogress demo set: ")
        assert "GET /early" in index and "/tus (TusUploads)" in index
    finally:
        served.terminate()
        served.communicate(timeout=10)

    (project / "use.py").write_text(USE)
    cache = tmp_path / "mypy-cache"
    checked = run(
        sys.executable,
        "-m",
        "mypy",
        "--python-executable",
        python,
        "--cache-dir",
        cache,
        "use.py",
        cwd=project,
    )
    assert REVEALED in checked.stdout and RETURNS in checked.stdout, checked.stdout
