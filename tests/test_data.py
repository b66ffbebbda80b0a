"""MNIST and Fashion-MNIST loading: ranges, padding, checksums, clear errors."""

import gzip
import shutil
import socket
from pathlib import Path

import pytest
import torch
from serving import serve

from dcgan_lib import data

needs_data = pytest.mark.skipif(data.find_local("mnist") is None,
                                reason="no local copy of MNIST (shared/data)")


@needs_data
def test_mnist_train_is_60000_images_in_minus_one_to_one_padded_to_32():
    x, y = data.load("mnist", "train")
    assert x.shape == (60000, 1, 32, 32) and x.dtype == torch.float32
    assert x.min() == -1 and x.max() == 1
    assert y.shape == (60000,) and set(y.unique().tolist()) == set(range(10))


@needs_data
def test_padding_adds_only_background_and_keeps_every_digit_pixel():
    raw, _ = data.load("mnist", "test", image_size=28, limit=100)
    padded, _ = data.load("mnist", "test", image_size=32, limit=100)
    torch.testing.assert_close(padded[:, :, 2:30, 2:30], raw)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:30, 2:30] = False
    assert (padded[:, 0][:, border] == -1).all()


@needs_data
def test_label_counts_match_the_published_mnist_test_counts():
    _, y = data.load("mnist", "test")
    counts = torch.bincount(y, minlength=10).tolist()
    assert counts == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@needs_data
def test_fashion_mnist_has_1000_test_images_per_class_and_resizes_to_64():
    x, y = data.load("fashion-mnist", "test", image_size=64)
    assert x.shape == (10000, 1, 64, 64)
    assert torch.bincount(y).tolist() == [1000] * 10
    assert x.min() >= -1 and x.max() <= 1


@needs_data
def test_a_corrupt_file_is_refused_with_its_md5(tmp_path, monkeypatch):
    src = data.find_local("mnist")
    dst = tmp_path / "mnist"
    dst.mkdir()
    for f in src.glob("*.gz"):
        shutil.copy(f, dst / f.name)
    with gzip.open(dst / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x08\x01" + b"\x00" * 8)
    monkeypatch.setenv("DCGAN_DATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    data.clear_cache()
    try:
        expected = "has md5 .* expected ec29112dd5afa0611ce80d1b7f02629c"
        with pytest.raises(data.DataError, match=expected):
            data.load("mnist", "test")
    finally:
        data.clear_cache()


def test_read_idx_rejects_a_truncated_file(tmp_path):
    path = tmp_path / "bad-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(b"\x00\x00\x08\x03" + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
                + b"\x00" * 100)
    with pytest.raises(data.DataError, match="holds 116 bytes, its header promises 7856"):
        data.read_idx(path)


def test_offline_without_a_local_copy_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("DCGAN_DATA", str(tmp_path))
    monkeypatch.setattr(data, "find_local", lambda dataset: None)
    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    data.clear_cache()
    try:
        with pytest.raises(data.DataError, match="set DCGAN_DATA=<folder>"):
            data.load("fashion-mnist", "test")
    finally:
        data.clear_cache()


@pytest.mark.parametrize("kwargs,match", [
    ({"dataset": "cifar10"}, "dataset must be one of 'mnist', 'fashion-mnist', got 'cifar10'"),
    ({"split": "val"}, "split must be one of 'train', 'test', got 'val'"),
    ({"image_size": 30}, "image_size must be 28 or a power of two from 16 to 256, got 30"),
    ({"limit": 0}, "limit must be a positive integer or None, got 0"),
])
def test_bad_arguments_name_the_value_and_the_choices(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.load(**kwargs)


def test_quick_mode_env_var_is_read_and_validated(monkeypatch):
    from dcgan_lib.config import pick, quick_mode

    monkeypatch.setenv("DCGAN_QUICK", "1")
    assert quick_mode() and pick("q", "f") == "q"
    monkeypatch.setenv("DCGAN_QUICK", "0")
    assert not quick_mode() and pick("q", "f") == "f"
    monkeypatch.setenv("DCGAN_QUICK", "maybe")
    with pytest.raises(ValueError, match="DCGAN_QUICK must be one of .* got 'maybe'"):
        quick_mode()



# ---------------------------------------------------------------------------------------
# the download Colab makes: no local copy, torchvision fetches the .gz files and checks md5.
# A server on 127.0.0.1 stands in for torchvision's mirrors; nothing leaves this machine.

LOCAL_MNIST = data.find_local("mnist")  # what the server serves; found before any patching


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mirrors(tmp_path, monkeypatch):
    """An empty download cache, no proxy, and a function that sets torchvision's MNIST
    mirrors (none until it is called, so nothing ever reaches the network)."""
    import torchvision

    monkeypatch.setattr(data, "CACHE", tmp_path / "cache")
    monkeypatch.setenv("no_proxy", "127.0.0.1")  # the loopback server, never through a proxy
    for proxy in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", [])
    data.clear_cache()
    yield lambda *urls: monkeypatch.setattr(torchvision.datasets.MNIST, "mirrors", list(urls))
    data.clear_cache()


def as_on_colab(monkeypatch) -> None:
    """No local copy of the data anywhere, as in a fresh Colab runtime."""
    monkeypatch.delenv("DCGAN_DATA", raising=False)
    monkeypatch.setattr(data, "find_local", lambda dataset: None)
    data.clear_cache()


def served_copy(tmp_path: Path) -> Path:
    """A copy of the four official MNIST files, to serve (and, in a test, to spoil)."""
    folder = tmp_path / "served"
    shutil.copytree(LOCAL_MNIST, folder)
    return folder


needs_mnist = pytest.mark.skipif(LOCAL_MNIST is None, reason="no local copy of MNIST to serve")


@needs_mnist
def test_without_a_local_copy_mnist_is_downloaded_md5_checked_and_equals_the_local_files(
        mirrors, tmp_path, monkeypatch):
    local = {split: data.load("mnist", split) for split in data.SPLITS}
    as_on_colab(monkeypatch)
    with serve(served_copy(tmp_path)) as url:
        mirrors(url + "/")
        downloaded = {split: data.load("mnist", split) for split in data.SPLITS}
    for split in data.SPLITS:
        assert torch.equal(downloaded[split][0], local[split][0])
        assert torch.equal(downloaded[split][1], local[split][1])
    raw = tmp_path / "cache" / "MNIST" / "raw"
    for name, md5 in data.MD5["mnist"].items():
        assert data.md5sum(raw / name) == md5  # torchvision kept the checked .gz files


@needs_mnist
def test_a_corrupt_download_is_refused_in_one_sentence(mirrors, tmp_path, monkeypatch):
    as_on_colab(monkeypatch)
    served = served_copy(tmp_path)
    labels = served / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(labels.read_bytes()[:-100])  # a download cut short
    with serve(served) as url:
        mirrors(url + "/")
        with pytest.raises(data.DataError) as caught:
            data.load("mnist", "test")
    one_sentence(caught.value, "")
    named = data.CACHE / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    assert f"downloaded: {named} failed its md5 check" in str(caught.value)


def one_sentence(error, why):
    message = str(error)
    assert message.startswith("mnist is not in a local folder (DCGAN_DATA, shared/data) and "
                              f"could not be downloaded: {why}")
    assert message.endswith("set DCGAN_DATA=<folder>") and "\n" not in message
    assert error.__suppress_context__  # one sentence, not torchvision's traceback


def test_an_unreachable_server_is_reported_in_one_sentence(mirrors, monkeypatch):
    as_on_colab(monkeypatch)
    mirrors(f"http://127.0.0.1:{unused_port()}/")  # nothing listens there
    with pytest.raises(data.DataError) as caught:
        data.load("mnist", "test")
    one_sentence(caught.value, "torchvision's mirrors could not be reached")
