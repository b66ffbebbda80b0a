"""CIFAR-10 and CelebA through torchvision: 64x64 colour, and one sentence when offline.

Nothing here touches the network: torchvision's download functions are replaced by ones
that fail as an offline machine fails, and the loading tests write small files in
torchvision's layout and let its md5 check pass (the real files' md5s are torchvision's).
"""

import pickle
import urllib.error

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import celeba, cifar

from dcgan_lib.data import COLOUR_DATASETS, DataError, load_colour
from dcgan_lib.train import TrainConfig, main

pytestmark = pytest.mark.usefixtures("one_thread")


def offline(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


@pytest.fixture
def no_network(monkeypatch):
    monkeypatch.setattr(cifar, "download_and_extract_archive", offline)
    monkeypatch.setattr(celeba, "download_file_from_google_drive", offline)


def write_cifar10(root, n_per_batch=4):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name, _ in cifar.CIFAR10.train_list + cifar.CIFAR10.test_list:
        data = rng.integers(0, 256, size=(n_per_batch, 3 * 32 * 32), dtype=np.uint8)
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": [0] * n_per_batch}, f)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": [str(i) for i in range(10)]}, f)


def write_celeba(root, n=5):
    folder = root / "celeba"
    (folder / "img_align_celeba").mkdir(parents=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    for i, name in enumerate(names):  # CelebA's aligned faces are 178 wide, 218 high
        pixels = np.full((218, 178, 3), 40 * i, dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "img_align_celeba" / name)
    rows = lambda k: "".join(f"{name} {' '.join(['1'] * k)}\n" for name in names)  # noqa: E731
    header = lambda k: f"{n}\n{' '.join(f'c{j}' for j in range(k))}\n"  # noqa: E731
    (folder / "list_eval_partition.txt").write_text(
        "".join(f"{name} {0 if i < n - 1 else 2}\n" for i, name in enumerate(names)))
    (folder / "identity_CelebA.txt").write_text(rows(1))
    for file, k in (("list_bbox_celeba.txt", 4), ("list_landmarks_align_celeba.txt", 10),
                    ("list_attr_celeba.txt", 40)):
        (folder / file).write_text(header(k) + rows(k))


@pytest.mark.parametrize("dataset", COLOUR_DATASETS)
def test_offline_without_the_files_says_so_in_one_sentence(dataset, tmp_path, no_network):
    with pytest.raises(DataError) as caught:
        load_colour(dataset, tmp_path)
    text = str(caught.value)
    assert text.startswith(f"{dataset} is not in {str(tmp_path)!r}"), text
    assert "Colab" in text and f"--data-dir {tmp_path}" in text, text
    assert "\n" not in text and text.count(". ") == 0, text


def test_the_command_line_prints_that_sentence_and_no_traceback(tmp_path, no_network,
                                                                  capsys):
    status = main(["--dataset", "cifar10", "--data-dir", str(tmp_path), "--device", "cpu",
                   "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("error: cifar10 is not in") and err.count("\n") == 1, err
    assert "Traceback" not in err


def test_cifar10_images_become_64x64_colour_in_minus_one_to_one(tmp_path, monkeypatch):
    write_cifar10(tmp_path)
    monkeypatch.setattr(cifar, "check_integrity", lambda *args, **kwargs: True)
    x = load_colour("cifar10", tmp_path)
    assert x.shape == (5 * 4, 3, 64, 64) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1
    assert load_colour("cifar10", tmp_path, image_size=32, limit=3).shape == (3, 3, 32, 32)


def test_celeba_faces_are_resized_and_centre_cropped_to_64x64(tmp_path, monkeypatch):
    write_celeba(tmp_path)
    monkeypatch.setattr(celeba, "check_integrity", lambda *args, **kwargs: True)
    x = load_colour("celeba", tmp_path)
    assert x.shape == (4, 3, 64, 64)  # the training split: the fifth face is a test face
    assert torch.allclose(x[1], torch.full_like(x[1], 40 / 127.5 - 1), atol=0.02)


def test_data_dir_is_the_root_for_colour_datasets_and_refused_for_mnist():
    TrainConfig(dataset="celeba", data_dir="~/data", out="o").validate()
    TrainConfig(dataset="cifar10", out="o").validate()  # the default root
    with pytest.raises(ValueError, match="data_dir goes with"):
        TrainConfig(dataset="mnist", data_dir="~/data", out="o").validate()
