"""Tests of the MNIST loader in sparsecoding.data, without the network.

Downloads are exercised with local ``file://`` URLs; the real test set is checked only
when ``SPARSECODING_DATA`` points at a folder holding ``mnist/``.
"""

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

from sparsecoding import data


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big")
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_gz(path: Path, raw: bytes) -> bytes:
    path.write_bytes(gzip.compress(raw, mtime=0))
    return path.read_bytes()


def _tiny_mnist(folder: Path, n=3):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = np.arange(n, dtype=np.uint8) % 10
    folder.mkdir(parents=True, exist_ok=True)
    img = _write_gz(folder / "t10k-images-idx3-ubyte.gz", _idx_bytes(images, 2051))
    lab = _write_gz(folder / "t10k-labels-idx1-ubyte.gz", _idx_bytes(labels, 2049))
    return images, labels, _md5(img), _md5(lab)


def test_idx_parsing_of_a_tiny_file(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "tiny.gz"
    _write_gz(path, _idx_bytes(array, 2051))
    out = data._read_idx(path, 2051)
    np.testing.assert_array_equal(out, array)
    labels = np.array([7, 0, 9], dtype=np.uint8)
    _write_gz(path, _idx_bytes(labels, 2049))
    np.testing.assert_array_equal(data._read_idx(path, 2049), labels)


def test_idx_bad_magic_and_truncation(tmp_path):
    path = tmp_path / "bad.gz"
    _write_gz(path, _idx_bytes(np.zeros((2, 2), np.uint8), 2049))
    with pytest.raises(ValueError, match="magic"):
        data._read_idx(path, 2051)
    _write_gz(path, _idx_bytes(np.zeros((2, 2, 2), np.uint8), 2051)[:-3])
    with pytest.raises(ValueError, match="truncated"):
        data._read_idx(path, 2051)


def test_load_mnist_parses_and_scales(tmp_path, monkeypatch):
    images, labels, img_md5, lab_md5 = _tiny_mnist(tmp_path / "mnist")
    monkeypatch.setitem(data._MNIST_FILES, "test", (
        "t10k-images-idx3-ubyte.gz", img_md5, "t10k-labels-idx1-ubyte.gz", lab_md5))
    X, y = data.load_mnist("test", root=tmp_path, download_missing=False)
    assert X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose(X, images / 255.0, atol=1e-7)
    np.testing.assert_array_equal(y, labels)


def test_checksum_mismatch_is_an_error(tmp_path):
    _tiny_mnist(tmp_path / "mnist")  # right names, wrong contents for the real md5
    with pytest.raises(ValueError, match="checksum"):
        data.load_mnist("test", root=tmp_path, download_missing=False)


def test_download_from_file_url_is_atomic(tmp_path):
    src = tmp_path / "src" / "payload.bin"
    src.parent.mkdir()
    src.write_bytes(b"sparse coding" * 100)
    dest = tmp_path / "dest" / "payload.bin"
    out = data.download(src.as_uri(), dest, _md5(src.read_bytes()))
    assert Path(out) == dest and dest.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dest.parent.iterdir()) == ["payload.bin"]


def test_bad_checksum_leaves_no_partial_file(tmp_path):
    src = tmp_path / "payload.bin"
    src.write_bytes(b"not what was published")
    dest = tmp_path / "dest" / "file.gz"
    with pytest.raises(OSError, match="checksum mismatch"):
        data.download([src.as_uri()], dest, "0" * 32)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []


def test_offline_error_says_what_to_do(tmp_path, monkeypatch):
    missing = (tmp_path / "nowhere").as_uri() + "/"
    monkeypatch.setattr(data, "_MNIST_MIRRORS", (missing,))
    with pytest.raises(OSError, match=data.DATA_ENV) as info:
        data.load_mnist("test", root=tmp_path / "cache")
    assert "Offline" in str(info.value)
    assert list((tmp_path / "cache" / "mnist").iterdir()) == []
    with pytest.raises(FileNotFoundError, match=data.DATA_ENV):
        data.load_mnist("test", root=tmp_path / "cache", download_missing=False)


def test_bad_split_names_the_argument():
    with pytest.raises(ValueError, match="split"):
        data.load_mnist("validation")


def _real_folder():
    env = os.environ.get(data.DATA_ENV)
    if env and (Path(env) / "mnist" / "t10k-images-idx3-ubyte.gz").exists():
        return Path(env)
    return None


@pytest.mark.skipif(_real_folder() is None,
                    reason=f"{data.DATA_ENV} does not point at a folder with mnist/")
def test_real_mnist_test_set():
    X, y = data.load_mnist("test", download_missing=False)
    assert X.shape == (10_000, 28, 28) and y.shape == (10_000,)
    assert X.min() == 0.0 and X.max() == 1.0
    # the published class counts of the MNIST test set
    expected = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    np.testing.assert_array_equal(np.bincount(y, minlength=10), expected)
