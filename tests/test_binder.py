"""The Binder configuration installs CPU torch and the course's package, so chapters import it.

Binder builds its image with repo2docker, which reads ``.binder/`` (when present, in
place of the repository's root files): ``runtime.txt`` chooses Python, and
``requirements.txt`` is installed with ``pip install -r .binder/requirements.txt`` from the
repository's root, after the whole repository has been copied in (a requirement file that
refers to local files, ``-r`` or ``-e .``, is installed in that later stage). These tests
check, without a network, that the files say what that needs: pip's own parser reads the
file as repo2docker's pip will, the pins agree with ``requirements.txt``, and the local
requirement (``-e .``), installed the same way into a clean virtual environment, makes
``import sparsecoding`` work from a chapter's folder. Downloading the packages and building
the image are not tested here (no network).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from clean_venv import make_clean_venv
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
BINDER = ROOT / ".binder"
#: Python versions repo2docker builds (repo2docker/buildpacks/conda/supported_python_version.py)
REPO2DOCKER_PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _parsed(path: Path):
    """The requirements of ``path`` as pip reads them, run from the repository's root."""
    req_file = pytest.importorskip("pip._internal.req.req_file")
    network = pytest.importorskip("pip._internal.network.session")
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return list(req_file.parse_requirements(str(path.relative_to(ROOT)),
                                                session=network.PipSession()))
    finally:
        os.chdir(cwd)


def test_repo2docker_reads_the_dot_binder_folder():
    assert BINDER.is_dir() and not (ROOT / "binder").exists(), \
        "repo2docker refuses a repository with both binder/ and .binder/"
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert match and match.group(1) in REPO2DOCKER_PYTHONS, runtime
    requires = SpecifierSet(_pyproject()["project"]["requires-python"])
    assert Version(match.group(1)) in requires


def test_binder_requirements_are_the_books_with_cpu_torch():
    binder = _parsed(BINDER / "requirements.txt")
    root = _parsed(ROOT / "requirements.txt")
    named = {Requirement(r.requirement).name.lower(): Requirement(r.requirement)
             for r in binder if not r.is_editable}
    root_named = {Requirement(r.requirement).name.lower(): Requirement(r.requirement)
                  for r in root if not r.is_editable}
    # everything the book needs comes in through -r ../requirements.txt
    assert set(root_named) <= set(named)
    # the CPU build of the same torch: the +cpu pin satisfies the book's pin too
    cpu = [Requirement(r.requirement) for r in binder if not r.is_editable
           and Requirement(r.requirement).name == "torch" and "+cpu" in r.requirement]
    assert len(cpu) == 1
    (pinned,) = cpu[0].specifier
    assert pinned.operator == "==" and pinned.version.endswith("+cpu")
    assert Version(pinned.version) in root_named["torch"].specifier
    text = (BINDER / "requirements.txt").read_text()
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in text
    # every requirement of the book is pinned
    loose = [str(r) for r in root_named.values()
             if not any(s.operator == "==" for s in r.specifier)]
    assert not loose, loose


def test_binder_installs_the_course_package_editable():
    editable = [r for r in _parsed(BINDER / "requirements.txt") if r.is_editable]
    assert [r.requirement for r in editable] == ["."]
    # pip resolves "-e ." against its working directory: repo2docker's is the repository
    assert _pyproject()["project"]["name"] == "sparse-coding-course"
    assert (ROOT / "src" / "sparsecoding" / "__init__.py").is_file()


def test_the_editable_line_makes_the_package_importable(tmp_path):
    """``pip install -e .`` from the root, as repo2docker runs it, into a clean venv (the
    dependencies visible from this interpreter's site-packages, nothing downloaded)."""
    env_dir = tmp_path / "venv"
    python, clean = make_clean_venv(env_dir)
    chapter_dir = ROOT / "chapters" / "part2"
    before = set((ROOT / "src").glob("*.egg-info"))
    probe = subprocess.run([python, "-c", "import sparsecoding"], env=clean, cwd=chapter_dir,
                           capture_output=True, text=True)
    assert probe.returncode != 0, "sparsecoding is importable before the install"
    install = subprocess.run([python, "-m", "pip", "install", "--no-deps", "--no-build-isolation",
                              "-e", "."], env=clean, cwd=ROOT, capture_output=True, text=True,
                             timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    where = subprocess.run([python, "-c", "import sparsecoding; print(sparsecoding.__file__)"],
                           env=clean, cwd=chapter_dir, capture_output=True, text=True)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).resolve().is_relative_to(ROOT / "src")
    shutil.rmtree(env_dir)
    for leftover in set((ROOT / "src").glob("*.egg-info")) - before:
        shutil.rmtree(leftover)  # metadata this editable build left (ignored by git)


def test_launch_buttons_point_at_binder():
    import yaml

    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    buttons = config["launch_buttons"]
    assert buttons["binderhub_url"] == "https://mybinder.org"
    assert config["repository"]["url"].startswith("https://github.com/")
