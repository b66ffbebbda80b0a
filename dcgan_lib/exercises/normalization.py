"""The checks of chapter 3's exercises (normalization): BatchNorm's noise, InstanceNorm."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from dcgan_lib import theory
from dcgan_lib.exercises._core import as_float, call, exercise, fail, show
from dcgan_lib.exercises._wire import Spec

LAYERS = [  # built by name on the learner's side (see _wire._layer); True: it leaks
    ("BatchNorm2d", True), ("InstanceNorm2d", False), ("GroupNorm", False),
    ("Identity", False), ("Sequential(Conv2d, BatchNorm2d, ReLU)", True),
    ("Sequential(Conv2d, GroupNorm)", False),
    # A test of the type cannot tell these two: the first is a BatchNorm2d that uses a
    # fixed reference batch, the second has no normalisation and reads its whole batch.
    ("ReferenceBatchNorm2d", False), ("Sequential(Conv2d, MinibatchStd)", True),
]


@exercise("3.1", "Measure the noise of a BatchNorm variance", "measure", "relative_variance_mse")
def check_relative_variance_mse(relative_variance_mse):
    """mean over rows of (S^2 - sigma^2)^2 / sigma^4, S^2 the unbiased variance of a row."""
    cases = [
        (torch.tensor([[1.0, 3.0], [0.0, 0.0], [2.0, -2.0]]), 2.0),
        (torch.tensor([[0.0, 1.0, 2.0, 3.0], [1.0, 1.0, 1.0, 5.0]]), 1.5),
        (torch.randn(50, 8, generator=torch.Generator().manual_seed(3)) * 2.0, 4.0),
    ]
    for samples, sigma2 in cases:
        what = f"relative_variance_mse({show(samples)}, sigma2={sigma2})"
        got = as_float(call(relative_variance_mse, "relative_variance_mse", samples.clone(),
                            sigma2), what)
        s2 = samples.var(dim=1, unbiased=True)
        expected = (((s2 - sigma2) / sigma2) ** 2).mean().item()
        if abs(got - expected) > 1e-4 * max(1.0, expected):
            fail(f"{what} returned {got:.4f}, expected {expected:.4f}: take the unbiased "
                 f"variance of each row (a batch of B = {samples.shape[1]}), then the mean "
                 f"of (S^2 - sigma^2)^2 / sigma^4 over the rows")
    batches = torch.randn(20_000, 4, generator=torch.Generator().manual_seed(3))
    measured = as_float(call(relative_variance_mse, "relative_variance_mse", batches, 1.0),
                        "relative_variance_mse on Gaussian batches")
    terms = (batches.var(dim=1) - 1.0) ** 2
    standard_error = (terms.std() / len(terms) ** 0.5).item()
    return (f"exact on three sets of batches; on 20,000 Gaussian batches of B = 4 it measures "
            f"{measured:.3f} +- {standard_error:.3f} against 2 / (B - 1) = "
            f"{theory.unbiased_variance_relative_mse(4):.3f}")


@exercise("3.2", "InstanceNorm by hand", "implement", "instance_norm")
def check_instance_norm(instance_norm):
    """(x - mean) / sqrt(var + eps) over each image's own pixels, channel by channel."""
    g = torch.Generator().manual_seed(4)
    constant = torch.full((1, 1, 3, 3), 7.0)
    scaled = torch.randn(3, 4, 5, 6, generator=g) * torch.tensor([1.0, 10.0, 0.1, 3.0])[
        None, :, None, None] + 5.0
    for x, name in [(torch.randn(2, 3, 4, 4, generator=g), "a (2, 3, 4, 4) batch"),
                    (scaled, "a (3, 4, 5, 6) batch with channels of different scales"),
                    (constant, "an image whose pixels are all equal")]:
        what = f"instance_norm on {name}"
        got = call(instance_norm, "instance_norm", x.clone())
        if not isinstance(got, torch.Tensor) or got.shape != x.shape:
            fail(f"{what} returned {show(got)}; return a tensor of the input's shape "
                 f"{tuple(x.shape)}")
        expected = F.instance_norm(x, eps=1e-5)
        if torch.isnan(got).any():
            fail(f"{what} returned nan; add eps = 1e-5 to the variance before the square root")
        if not torch.allclose(got, expected, atol=1e-4):
            fail(f"{what} differs from F.instance_norm by up to "
                 f"{(got - expected).abs().max().item():.3g}; normalise over each image's "
                 f"pixels (dims 2 and 3) with the biased variance and eps = 1e-5")
    one = torch.randn(1, 2, 4, 4, generator=g)
    batch = torch.cat([one, torch.randn(3, 2, 4, 4, generator=g) * 5 + 2])
    alone = call(instance_norm, "instance_norm", one.clone())
    together = call(instance_norm, "instance_norm", batch.clone())[:1]
    if not torch.allclose(alone, together, atol=1e-5):
        fail("instance_norm changes an image's output when other images join the batch; "
             "its statistics must come from that image alone")
    return "equal to F.instance_norm, independent of the rest of the batch"


WHY = {
    "ReferenceBatchNorm2d": "this BatchNorm2d normalises with a fixed reference batch, not "
                            "with the batch it is given; measure the layer, do not read its "
                            "type",
    "Sequential(Conv2d, MinibatchStd)": "its last layer appends the batch's standard "
                                        "deviation as a channel, so the first sample's "
                                        "output changes with its batch mates; measure the "
                                        "layer, do not read its type",
}


@exercise("3.3", "Does a normalisation leak the batch?", "measure", "leaks_batch")
def check_leaks_batch(leaks_batch):
    """True exactly when a sample's output (in training mode) depends on its batch mates."""
    for name, expected in LAYERS:
        # The layer arrives in evaluation mode: the learner must switch it to training
        # mode, as in a training step.
        layer = Spec("layer", name, name=name)
        got = call(leaks_batch, "leaks_batch", layer)
        if not isinstance(got, (bool, np.bool_)) and not (
                isinstance(got, torch.Tensor) and got.numel() == 1):
            fail(f"leaks_batch({name}) returned {show(got)}; return True or False")
        if bool(got) != expected:
            why = WHY.get(name) or (
                "in training mode BatchNorm normalises with the batch's mean and variance"
                if expected else
                "its statistics come from each sample alone, so compare only the first "
                "sample's output between two batches that share it")
            fail(f"leaks_batch({name}) returned {bool(got)}, expected {expected}: {why}")
    return ("measured right on 8 layers: BatchNorm and a minibatch-std layer leak the batch; "
            "InstanceNorm, GroupNorm, no norm and a reference-batch BatchNorm do not")


TOLERANCES_3_4 = (0.05, 0.1, 0.25, 0.5, 0.01)  # 0.05, 0.1, 0.25, 0.5: hit exactly at some B


def _smallest_batch(estimator, tolerance: float) -> int:
    return next(b for b in range(2, 10_000) if estimator(b) < tolerance)


@exercise("3.4", "How large a batch?", "explain", "answer_3_4")
def check_answer_3_4(answer_3_4):
    """The smallest B whose relative MSE is below a tolerance, for the unbiased S^2
    (2 / (B - 1)) and for BatchNorm's biased variance ((2B - 1) / B^2)."""
    estimators = (("unbiased", theory.unbiased_variance_relative_mse, "2 / (B - 1)"),
                  ("biased", theory.biased_variance_relative_mse, "(2B - 1) / B^2"))
    for tolerance in TOLERANCES_3_4:
        what = f"answer_3_4({tolerance})"
        got = call(answer_3_4, "answer_3_4", tolerance)
        if not isinstance(got, tuple | list) or len(got) != 2:
            fail(f"{what} returned {show(got)}; return a pair of batch sizes "
                 f"(for the unbiased S^2, for BatchNorm's biased variance)")
        for value, (name, estimator, formula) in zip(got, estimators, strict=True):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int):
                fail(f"{what} gave {show(value)} for the {name} variance; give a whole "
                     f"batch size B")
            expected = _smallest_batch(estimator, tolerance)
            if value == expected:
                continue
            error = estimator(value) if value >= 2 else float("inf")
            if value == expected - 1:
                fail(f"{what} gave B = {value} for the {name} variance, where {formula} = "
                     f"{error:.4g} is not below {tolerance}; the error must be strictly below")
            fail(f"{what} gave B = {value} for the {name} variance, where {formula} = "
                 f"{error:.4g}; find the smallest B with {formula} < {tolerance}")
    unbiased, biased = (_smallest_batch(e, 0.05) for _, e, _ in estimators)
    return (f"at {len(TOLERANCES_3_4)} tolerances; below 0.05, B = {unbiased} for S^2 and "
            f"B = {biased} for BatchNorm's own biased variance")
