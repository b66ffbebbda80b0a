"""A chapter's listing of library code is the library's code, fit for the page."""

import inspect
import re

import pytest
import torch

from dcgan_lib import checks
from dcgan_lib.book import MAX_COLUMNS, listing, show
from dcgan_lib.steps import log_line, train_step
from dcgan_lib.train import TrainConfig, train


def test_show_displays_the_library_source_itself_under_its_file_name():
    text = show(train_step).data
    assert text.startswith("```python\n# dcgan_lib/steps.py\n") and text.endswith("\n```")
    assert inspect.getsource(train_step).rstrip() in text


def test_a_function_that_checks_its_arguments_is_refused():
    with pytest.raises(ValueError, match="positive_int raises or calls a check"):
        listing(checks.positive_int)


def wide():
    return "a line wider than the page's column of code, which would scroll sideways in the book"


def test_a_function_wider_than_the_page_is_refused():
    assert len(inspect.getsource(wide).splitlines()[1]) > MAX_COLUMNS
    with pytest.raises(ValueError, match=f"wider than {MAX_COLUMNS} columns"):
        listing(wide)


def test_an_object_without_a_source_file_is_named():
    with pytest.raises(ValueError, match="show needs a function or class defined in a file"):
        listing(torch.sigmoid)


def test_log_line_is_the_pytorch_examples_line():
    line = log_line(0, 5, 100, 468, torch.tensor([0.8123, 2.0456, 0.7012, 0.2410, 0.1502]))
    assert line == ("[0/5][100/468] Loss_D: 0.8123 Loss_G: 2.0456 D(x): 0.7012 "
                    "D(G(z)): 0.2410 / 0.1502")


def test_without_a_progress_bar_training_prints_the_line_every_log_every_steps(capsys):
    cfg = TrainConfig(width=8, limit=256, batch_size=32, device="cpu", progress=False,
                      log_every=4)
    train(cfg)
    lines = capsys.readouterr().out.splitlines()
    pattern = (r"\[0/1\]\[(\d)/8\] Loss_D: \d+\.\d{4} Loss_G: \d+\.\d{4} D\(x\): 0\.\d{4} "
               r"D\(G\(z\)\): 0\.\d{4} / 0\.\d{4}")
    positions = [int(re.fullmatch(pattern, line).group(1)) for line in lines]
    assert positions == [3, 7]  # after steps 4 and 8, at minibatches 3 and 7 of the epoch


def test_a_constructor_that_calls_argument_checks_is_refused_and_its_core_is_shown():
    from dcgan_lib import models

    with pytest.raises(ValueError, match="Generator.__init__ raises or calls a check"):
        listing(models.Generator.__init__)
    assert "def generator_layers" in listing(models.generator_layers)
