"""Faults during downloads, against a local HTTP server on 127.0.0.1 (no internet).

The server (``http.server`` in a thread, on a free port) serves one payload in several
broken ways: a short body without a length (truncated), other bytes (checksum
mismatch), a connection closed mid-transfer after a declared length, and a slow
transfer that a test interrupts with SIGTERM in a subprocess. After each fault the
destination folder holds nothing but what was there before, and the next download
succeeds.
"""

import gzip
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from sparsecoding import data

PAYLOAD = bytes(range(256)) * 400  # 100 kB
MD5 = hashlib.md5(PAYLOAD).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    files = {}  # extra path -> bytes, for the MNIST tests

    def log_message(self, *args):  # keep the test output quiet
        pass

    def do_GET(self):  # noqa: N802 (the name http.server calls)
        path = self.path
        if path in self.files:
            body = self.files[path]
            self._head(len(body))
            self.wfile.write(body)
        elif path == "/good":
            self._head(len(PAYLOAD))
            self.wfile.write(PAYLOAD)
        elif path == "/wrong":
            body = bytes(reversed(PAYLOAD))
            self._head(len(body))
            self.wfile.write(body)
        elif path == "/truncated":  # no length: the client reads to the end, short
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 3])
            self.close_connection = True
        elif path == "/cut":  # a declared length, then the connection is closed
            self._head(len(PAYLOAD))
            self.wfile.write(PAYLOAD[: len(PAYLOAD) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
        elif path == "/slow":  # a first block, then a trickle (killed meanwhile)
            self._head(len(PAYLOAD))
            self.wfile.write(PAYLOAD[:4096])
            self.wfile.flush()
            for start in range(4096, len(PAYLOAD), 1024):
                time.sleep(0.05)
                try:
                    self.wfile.write(PAYLOAD[start:start + 1024])
                    self.wfile.flush()
                except OSError:
                    return
        else:
            self.send_error(404)

    def _head(self, length):
        self.send_response(200)
        self.send_header("Content-Length", str(length))
        self.end_headers()


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _listing(folder: Path):
    return sorted(p.name for p in folder.iterdir())


def test_good_download(server, tmp_path):
    dest = tmp_path / "file.bin"
    data.download(server + "/good", dest, MD5, timeout=10)
    assert dest.read_bytes() == PAYLOAD
    assert _listing(tmp_path) == ["file.bin"]


@pytest.mark.parametrize("fault", ["/truncated", "/wrong", "/cut", "/missing"])
def test_a_fault_leaves_nothing_and_the_next_run_succeeds(server, tmp_path, fault):
    dest = tmp_path / "file.bin"
    with pytest.raises(OSError) as info:
        data.download(server + fault, dest, MD5, timeout=10)
    message = str(info.value)
    assert "could not download file.bin" in message and data.DATA_ENV in message
    if fault in ("/truncated", "/wrong"):
        assert "checksum mismatch" in message
    assert _listing(tmp_path) == []
    # the next run, from a working mirror listed after the broken one
    data.download([server + fault, server + "/good"], dest, MD5, timeout=10)
    assert dest.read_bytes() == PAYLOAD
    assert _listing(tmp_path) == ["file.bin"]


_CHILD = """
import sys
from sparsecoding import data
data.download(sys.argv[1], sys.argv[2], sys.argv[3], timeout=30)
"""


def test_sigterm_mid_transfer_is_cleaned_up_by_the_next_run(server, tmp_path):
    dest = tmp_path / "file.bin"
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(Path(data.__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", _CHILD, server + "/slow", str(dest),
                              MD5], env=env)
    try:
        deadline = time.monotonic() + 30
        parts = []
        while time.monotonic() < deadline:  # wait until the transfer has begun
            parts = [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
            if parts and parts[0].stat().st_size > 0:
                break
            assert child.poll() is None, "the download ended before it could be killed"
            time.sleep(0.02)
        assert parts, "no partial file appeared"
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGTERM
    assert not dest.exists()
    left = _listing(tmp_path)
    assert len(left) == 1 and left[0].endswith(".part")  # what SIGTERM leaves
    data.download(server + "/good", dest, MD5, timeout=10)
    assert _listing(tmp_path) == ["file.bin"]  # the stale partial file is gone
    assert dest.read_bytes() == PAYLOAD


def test_a_failed_run_also_removes_stale_partial_files(server, tmp_path):
    dest = tmp_path / "file.bin"
    stale = tmp_path / "file.bin.999999999.abcd.part"  # no such process
    stale.write_bytes(b"half")
    with pytest.raises(OSError):
        data.download(server + "/cut", dest, MD5, timeout=10)
    assert _listing(tmp_path) == []


def test_partial_files_of_other_names_are_left_alone(server, tmp_path):
    other = tmp_path / "other.bin.999999999.abcd.part"
    other.write_bytes(b"x")
    data.download(server + "/good", tmp_path / "file.bin", MD5, timeout=10)
    assert _listing(tmp_path) == ["file.bin", other.name]


def _idx_gz(array, magic):
    header = magic.to_bytes(4, "big") + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes(), mtime=0)


@pytest.fixture
def tiny_mnist(server, monkeypatch):
    """MNIST's loader pointed at the local server, serving two tiny IDX files."""
    images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
    labels = np.array([3, 7])
    img, lab = _idx_gz(images, 2051), _idx_gz(labels, 2049)
    monkeypatch.setitem(_Handler.files, "/mnist/img.gz", img)
    monkeypatch.setitem(_Handler.files, "/mnist/lab.gz", lab)
    monkeypatch.setattr(data, "_MNIST_MIRRORS", (server + "/mnist/",))
    monkeypatch.setattr(data, "_MNIST_FILES", {"test": (
        "img.gz", hashlib.md5(img).hexdigest(), "lab.gz", hashlib.md5(lab).hexdigest())})
    return images, labels, img


def test_corrupted_cached_file_says_what_to_do(tiny_mnist, tmp_path):
    images, labels, img = tiny_mnist
    got_images, got_labels = data.load_mnist("test", root=tmp_path)
    np.testing.assert_array_equal(got_labels, labels)
    np.testing.assert_allclose(got_images * 255, images)
    cached = tmp_path / "mnist" / "img.gz"
    cached.write_bytes(img[: len(img) // 2])  # a truncated gz in the cache
    with pytest.raises(ValueError) as info:
        data.load_mnist("test", root=tmp_path)
    message = str(info.value)
    assert str(cached) in message and "delete" in message
    assert "force_download=True" in message
    # what the message says works: force the download, or delete the file
    data.load_mnist("test", root=tmp_path, force_download=True)
    assert cached.read_bytes() == img
    cached.write_bytes(b"garbage")
    cached.unlink()
    data.load_mnist("test", root=tmp_path)
    assert cached.read_bytes() == img
    assert _listing(tmp_path / "mnist") == ["img.gz", "lab.gz"]


def test_bad_arguments_name_themselves(tmp_path):
    with pytest.raises(ValueError, match="md5"):
        data.download("http://127.0.0.1:9/x", tmp_path / "f", "abc")
    with pytest.raises(TypeError, match="urls"):
        data.download([1, 2], tmp_path / "f", MD5)
    with pytest.raises(ValueError, match="timeout"):
        data.download("http://127.0.0.1:9/x", tmp_path / "f", MD5, timeout=0)
    with pytest.raises(TypeError, match="force_download"):
        data.load_mnist("test", root=tmp_path, force_download="yes")
