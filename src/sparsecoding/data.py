"""Data for the course: natural-image patches, digits and MNIST.

Where data lives, in this order: the ``root`` argument, the ``SPARSECODING_DATA``
environment variable, the ``data/`` folder of the repository (or of the working
directory). Nothing here reaches the network unless a file is missing and
``download=True``; a download goes to a temporary file, is checked against its MD5
checksum, and only then renamed into place, so a failed download leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from ._arrays import to_numpy
from ._validation import check_array, check_choice, check_scalar, check_squarable

__all__ = [
    "DATA_ENV",
    "data_home",
    "download",
    "load_mnist",
    "natural_images",
    "extract_patches",
    "whiten",
    "load_image_patches",
    "load_digits",
]

#: The environment variable naming the data folder.
DATA_ENV = "SPARSECODING_DATA"

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
_MNIST_MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)

#: Grey-level photographs shipped by scikit-image and scikit-learn.
NATURAL_IMAGES = ("camera", "astronaut", "coffee", "chelsea", "rocket", "china", "flower")


def data_home(root=None) -> Path:
    """The data folder: ``root``, else ``$SPARSECODING_DATA``, else the repository's ``data/``."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise TypeError(f"root must be a path, got {type(root).__name__}")
        return Path(root)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "data"
    if repo.is_dir():
        return repo
    return Path.cwd() / "data"


def _md5(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _part_prefix(path: Path) -> str:
    return f"{path.name}."


def _remove_stale_parts(path: Path) -> None:
    """Remove the partial files that earlier downloads of ``path`` left behind.

    A partial file is named ``<name>.<pid>.<random>.part`` after the process writing it;
    one whose process is gone (killed by SIGTERM or SIGKILL mid-transfer, when no
    ``finally`` runs) is removed, one of a live process (a concurrent download) is left.
    """
    prefix = _part_prefix(path)
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".part")):
            continue
        pid_text = name[len(prefix):].split(".", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and _alive(int(pid_text)):
            continue
        try:
            entry.unlink()
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def download(urls, path, md5, *, timeout=60.0):
    """Download the first of ``urls`` that works to ``path``, checking its MD5 checksum.

    The data goes to a temporary file in the destination folder, which is renamed to
    ``path`` only once its checksum matches; on any failure the temporary file is
    removed and :class:`OSError` is raised, saying how to provide the file by hand.
    Partial files that an interrupted earlier download left (a process killed
    mid-transfer) are removed before the download starts.
    """
    path = Path(path)
    if isinstance(urls, (str, bytes)) or not hasattr(urls, "__iter__"):
        urls = (urls,)
    urls = tuple(urls)
    if not urls or not all(isinstance(u, str) for u in urls):
        raise TypeError(f"urls must be a URL string or a sequence of them, got {urls!r}")
    if not isinstance(md5, str) or len(md5) != 32:
        raise ValueError(f"md5 must be a hexadecimal MD5 digest of 32 characters, "
                         f"got {md5!r}")
    timeout = check_scalar(timeout, "timeout", low=0.0, low_inclusive=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OSError(
            f"cannot create the data folder {path.parent} ({exc}). Point {DATA_ENV} at a "
            f"writable folder, or one that already holds {path.name} (md5 {md5})."
        ) from None
    _remove_stale_parts(path)
    errors = []
    for url in urls:
        tmp = None
        try:
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part",
                                       prefix=f"{_part_prefix(path)}{os.getpid()}.")
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                shutil.copyfileobj(r, out)
            got = _md5(Path(tmp))
            if got != md5:
                raise OSError(f"checksum mismatch for {url}: md5 {got}, expected {md5}")
            os.replace(tmp, path)
            return path
        except Exception as exc:  # network errors, HTTP errors, checksum mismatch
            errors.append(f"{url}: {exc}")
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.remove(tmp)
    raise OSError(
        f"could not download {path.name} ({'; '.join(errors)}). Offline, copy the file "
        f"(md5 {md5}) to {path} or point {DATA_ENV} at a folder that holds it."
    )


def _read_idx(path: Path, magic: int) -> np.ndarray:
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip.BadGzipFile is an OSError
        raise ValueError(
            f"{path} is not a readable gzip file ({exc}): delete it and call again to "
            "download it afresh, or copy a good copy there"
        ) from None
    if len(raw) < 8 or int.from_bytes(raw[:4], "big") != magic:
        raise ValueError(f"{path} is not an IDX file with magic number {magic}")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    data = np.frombuffer(raw, dtype=np.uint8, offset=offset)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path} is truncated: expected {dims}, found {data.size} bytes")
    return data.reshape(dims)


def load_mnist(split="test", *, root=None, download_missing=True, force_download=False):
    """The MNIST digits (LeCun, Cortes and Burges), as published.

    Parameters
    ----------
    split : ``"test"`` (10,000 images) or ``"train"`` (60,000)
    root : path, optional
        Folder holding ``mnist/``; see :func:`data_home`.
    download_missing : bool
        Download missing files (with checksum); with ``False`` a missing file raises
        :class:`FileNotFoundError`.
    force_download : bool
        Download again a file whose checksum does not match (a corrupted copy); by
        default such a file raises :class:`ValueError` saying what to do.

    Returns
    -------
    images : ``(n, 28, 28)`` float32 in [0, 1]
    labels : ``(n,)`` int64
    """
    check_choice(split, "split", tuple(_MNIST_FILES))
    for flag, flag_name in ((download_missing, "download_missing"),
                            (force_download, "force_download")):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{flag_name} must be True or False, got {flag!r}")
    folder = data_home(root) / "mnist"
    img_name, img_md5, lab_name, lab_md5 = _MNIST_FILES[split]
    paths = []
    for name, md5 in ((img_name, img_md5), (lab_name, lab_md5)):
        path = folder / name
        if not path.exists():
            if not download_missing:
                raise FileNotFoundError(
                    f"{path} is missing: set {DATA_ENV} to a folder with mnist/{name} "
                    "or allow the download"
                )
            download([m + name for m in _MNIST_MIRRORS], path, md5)
        elif _md5(path) != md5:
            if force_download:
                download([m + name for m in _MNIST_MIRRORS], path, md5)
            else:
                raise ValueError(
                    f"{path} does not match its published checksum md5 {md5} (a "
                    "corrupted or truncated copy): delete the file and call load_mnist "
                    "again to download it afresh, call load_mnist(..., "
                    "force_download=True), or copy a good copy there"
                )
        paths.append(path)
    images = _read_idx(paths[0], 2051).astype(np.float32) / 255.0
    labels = _read_idx(paths[1], 2049).astype(np.int64)
    return images, labels


def load_digits():
    """Load scikit-learn's 8×8 digits (1,797 images): ``(images (n, 8, 8) in [0, 1], labels)``."""
    from sklearn.datasets import load_digits as _load

    bunch = _load()
    return (bunch.images / 16.0).astype(np.float64), bunch.target.astype(np.int64)


def natural_images(names=NATURAL_IMAGES):
    """Grey-level natural photographs in [0, 1] that scikit-image and scikit-learn ship.

    ``names`` picks among ``camera``, ``astronaut``, ``coffee``, ``chelsea``, ``rocket``
    (scikit-image) and ``china``, ``flower`` (scikit-learn). Returns a list of 2-D
    float64 arrays.
    """
    import skimage.data
    from skimage.color import rgb2gray

    if isinstance(names, str):
        names = (names,)
    images = []
    sample = None
    for name in names:
        check_choice(name, "names", NATURAL_IMAGES)
        if name in ("china", "flower"):
            if sample is None:
                from sklearn.datasets import load_sample_images

                sample = load_sample_images()
            im = sample.images[0 if name == "china" else 1]
        else:
            im = getattr(skimage.data, name)()
        im = np.asarray(im, dtype=np.float64) / 255.0
        images.append(rgb2gray(im) if im.ndim == 3 else im)
    return images


def extract_patches(images, patch_size, n_patches, *, seed=0):
    """Random square patches from a list of 2-D images, one flattened patch per row.

    Patches are drawn uniformly over images (in proportion to their number of
    positions) and positions. Returns ``(n_patches, patch_size**2)``.
    """
    patch_size = check_scalar(patch_size, "patch_size", low=1, integer=True)
    n_patches = check_scalar(n_patches, "n_patches", low=1, integer=True)
    seed = check_scalar(seed, "seed", low=0, integer=True)
    if isinstance(images, np.ndarray) and images.ndim == 2:
        images = [images]
    images = [check_array(im, "images", ndim=2) for im in images]
    if not images:
        raise ValueError("images must hold at least one image")
    sizes = []
    for im in images:
        if min(im.shape) < patch_size:
            raise ValueError(
                f"patch_size {patch_size} exceeds an image of shape {im.shape}"
            )
        sizes.append((im.shape[0] - patch_size + 1) * (im.shape[1] - patch_size + 1))
    rng = np.random.default_rng(seed)
    which = rng.choice(len(images), size=n_patches, p=np.array(sizes) / sum(sizes))
    out = np.empty((n_patches, patch_size * patch_size))
    for i, k in enumerate(which):
        im = images[k]
        r = rng.integers(0, im.shape[0] - patch_size + 1)
        c = rng.integers(0, im.shape[1] - patch_size + 1)
        out[i] = im[r:r + patch_size, c:c + patch_size].ravel()
    return out


def whiten(X, *, eps=1e-2):
    r"""ZCA whitening: decorrelate features while staying close to the original pixels.

    With the covariance :math:`C = U \Lambda U^\top` of the centred rows,
    :math:`W = U(\Lambda + \epsilon\bar\lambda I)^{-1/2}U^\top`, where
    :math:`\bar\lambda` is the mean eigenvalue (``eps`` is relative, which damps the
    noisy high-frequency directions). Returns ``(X_white, W, mean)`` with
    ``X_white = (X - mean) @ W``.
    """
    X = check_squarable(np.asarray(to_numpy(check_array(X, "X", ndim=2))), "X")
    eps = check_scalar(eps, "eps", low=0.0)
    mean = X.mean(axis=0)
    Xc = X - mean
    C = Xc.T @ Xc / X.shape[0]
    evals, U = np.linalg.eigh(C)
    evals = np.clip(evals, 0, None)
    W = (U / np.sqrt(evals + eps * evals.mean() + 1e-12)) @ U.T
    return Xc @ W, W, mean


def load_image_patches(patch_size=8, n_patches=10_000, *, seed=0, names=NATURAL_IMAGES,
                       remove_mean=True, whitened=False, eps=1e-2):
    """Load patches of the bundled natural images, ready for sparse coding.

    Each patch is flattened to a row; with ``remove_mean`` its mean grey level is
    subtracted (the DC component carries no structure), and with ``whitened`` the
    patches are ZCA-whitened (:func:`whiten`) and scaled to unit variance per pixel.
    Returns ``(n_patches, patch_size**2)`` float64.
    """
    X = extract_patches(natural_images(names), patch_size, n_patches, seed=seed)
    if remove_mean:
        X = X - X.mean(axis=1, keepdims=True)
    if whitened:
        X, _, _ = whiten(X, eps=eps)
        std = X.std()
        if not std > 0:
            raise ValueError(
                "the patches have no variance (flat images): whitened=True cannot scale "
                "them to unit variance; use whitened=False or images with structure"
            )
        X = X / std
    return X
