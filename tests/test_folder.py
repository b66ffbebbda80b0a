"""Training on a folder of one's own images: loading, cropping, errors, and a short run."""

import numpy as np
import pytest
import torch
from PIL import Image

from dcgan_lib.data import DataError
from dcgan_lib.folder import load_folder
from dcgan_lib.train import TrainConfig, main, train

pytestmark = pytest.mark.usefixtures("one_thread")


def write_images(folder, n, colour=True, seed=0):
    rng = np.random.default_rng(seed)
    (folder / "sub").mkdir(parents=True, exist_ok=True)
    for i in range(n):
        w, h = int(rng.integers(40, 120)), int(rng.integers(40, 120))
        shape = (h, w, 3) if colour else (h, w)
        pixels = rng.integers(0, 256, size=shape, dtype=np.uint8)
        place = folder / "sub" if i % 3 == 0 else folder
        Image.fromarray(pixels).save(place / f"img{i:03d}.{'png' if i % 2 else 'jpg'}")
    return folder


def test_images_of_any_size_become_squares_in_minus_one_to_one(tmp_path):
    x = load_folder(write_images(tmp_path, 7), image_size=32)
    assert x.shape == (7, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1


def test_grey_images_give_one_channel(tmp_path):
    assert load_folder(write_images(tmp_path, 4, colour=False), 16).shape == (4, 1, 16, 16)


def test_the_crop_is_the_centred_square_of_the_resized_image(tmp_path):
    pixels = np.zeros((20, 60, 3), dtype=np.uint8)
    pixels[:, :20, 0] = pixels[:, 20:40, 1] = pixels[:, 40:, 2] = 255  # red, green, blue
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    x = load_folder(tmp_path, image_size=16)  # resized to 48x16, then its middle 16x16
    assert x.shape == (1, 3, 16, 16)
    inner = x[0, :, :, 2:14]  # away from the resampling's blur at the thirds' edges
    assert inner[1].min() > 0.9 and inner[0].max() < -0.9 and inner[2].max() < -0.9


def test_an_empty_folder_and_an_unreadable_file_are_named(tmp_path):
    with pytest.raises(DataError, match="holds no images"):
        load_folder(tmp_path, 32)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png is not a readable image"):
        load_folder(tmp_path, 32)


def test_a_short_run_on_colour_images_at_64x64_trains_and_saves(tmp_path):
    data_dir = write_images(tmp_path / "images", 40)
    cfg = TrainConfig(dataset="folder", data_dir=str(data_dir), image_size=64, width=8,
                      batch_size=8, epochs=1, device="cpu", progress=False,
                      out=str(tmp_path / "run"), sample_every=5)
    result = train(cfg)
    assert result.history["step"] == [1, 2, 3, 4, 5]
    assert all(np.isfinite(result.history["errD"]))
    assert result.history["samples"][-1][1].shape == (64, 3, 64, 64)
    assert (tmp_path / "run" / "generator.safetensors").is_file()


def test_the_command_line_trains_on_a_folder_and_explains_a_missing_one(tmp_path, capsys):
    data_dir = write_images(tmp_path / "images", 16)
    argv = ["--dataset", "folder", "--data-dir", str(data_dir), "--image-size", "32",
            "--width", "8", "--batch-size", "8", "--device", "cpu", "--no-progress",
            "--out", str(tmp_path / "run")]
    assert main(argv) == 0
    assert main(argv[:3] + ["/nowhere"] + argv[4:]) == 2
    assert "data_dir '/nowhere' is not a folder" in capsys.readouterr().err
    assert main(["--dataset", "folder", "--out", str(tmp_path / "x")]) == 2
    assert "data_dir goes with dataset='folder'" in capsys.readouterr().err
