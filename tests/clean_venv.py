"""A clean virtual environment for install tests: nothing of this repository installed,
the system's packages (numpy, scipy ...) visible, pip kept off the network."""

from __future__ import annotations

import os
import subprocess
import sysconfig
import venv
from pathlib import Path


def make_clean_venv(env_dir: Path) -> tuple[Path, dict]:
    """Create a venv in ``env_dir``; return its python and the environment to run it in.

    The system's packages are a plain path entry: unlike ``--system-site-packages`` this
    does not run their .pth files, so an editable install of this repository there stays
    invisible, as on Colab or a fresh Binder image."""
    venv.EnvBuilder(with_pip=True, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                              "['purelib'])"], capture_output=True, text=True,
                             check=True).stdout.strip()
    system = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    Path(purelib, "system-packages.pth").write_text("\n".join(sorted(system)) + "\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PIP_TARGET")}
    clean.update(PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    return python, clean
