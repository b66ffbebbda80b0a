"""Measuring a generator with a small classifier the project trains itself.

The Inception Score and the Fréchet Inception Distance of the GAN literature use an
ImageNet network. For 32x32 digits a small convolutional classifier trained on MNIST
(or Fashion-MNIST) plays its part:

* ``inception_score``: ``exp(E_x KL(p(y|x) || p(y)))``, between 1 (every sample gets the
  same prediction) and the number of classes (confident predictions, all classes equally
  often);
* ``frechet_distance``: the Fréchet distance between two Gaussians fitted to the
  classifier's penultimate features, ``|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^(1/2))``;
* ``class_coverage``: how often each class is predicted, and the KL divergence of that
  histogram from the uniform one (0 when every class appears equally often).

Images are ``(N, 1, 32, 32)`` float tensors in [-1, 1], as ``dcgan_lib.data.load(...,
image_size=32)`` returns them and as the generator's tanh produces them.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dcgan_lib import data

WEIGHTS = Path(__file__).resolve().parent / "weights"
FEATURE_DIM = 128
PSD_TOLERANCE = 1e-6  # relative: a covariance's eigenvalues may round below 0 by this
NUM_CLASSES = 10


class Classifier(nn.Module):
    """A small CNN: ``(B, 1, 32, 32)`` in [-1, 1] -> 10 logits; ``features`` gives the
    ``(B, 128)`` penultimate activations used by the Fréchet distance."""

    def __init__(self, width: int = 32):
        super().__init__()

        def block(c_in, c_out):
            return nn.Sequential(
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True), nn.MaxPool2d(2),
            )

        self.body = nn.Sequential(
            block(1, width), block(width, 2 * width), block(2 * width, 4 * width),  # 32 -> 4
            nn.Flatten(), nn.Dropout(0.3),
            nn.Linear(4 * width * 16, FEATURE_DIM), nn.ReLU(inplace=True),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(FEATURE_DIM, NUM_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))


def check_images(images, min_count: int = 1, name: str = "images") -> torch.Tensor:
    """Validate ``(N, 1, 32, 32)`` float images in [-1, 1] with ``N >= min_count``."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(images).__name__}")
    if images.dim() != 4 or tuple(images.shape[1:]) != (1, 32, 32):
        raise ValueError(f"{name} must have shape (N, 1, 32, 32), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise TypeError(f"{name} must be a float tensor in [-1, 1], got dtype {images.dtype}")
    if len(images) < min_count:
        raise ValueError(f"{name} must hold at least {min_count} images, got {len(images)}")
    lo, hi = float(images.min()), float(images.max())
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < -1.0 - 1e-4 or hi > 1.0 + 1e-4:
        raise ValueError(
            f"{name} must lie in [-1, 1] (tanh range), got values in [{lo:.3g}, {hi:.3g}]"
        )
    return images


# ---------------------------------------------------------------- the classifier itself

def _augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random shifts of up to 2 pixels: the padded 32x32 frame has room for them."""
    b = len(x)
    shifts = torch.randint(-2, 3, (2,), generator=generator).tolist()
    flat = F.pad(x, (2, 2, 2, 2), value=-1.0)
    top, left = 2 + shifts[0], 2 + shifts[1]
    return flat[:, :, top:top + 32, left:left + 32].reshape(b, 1, 32, 32)


def evaluate_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose argmax prediction equals ``labels``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(images), batch_size):
            pred = model(images[i:i + batch_size]).argmax(1)
            correct += int((pred == labels[i:i + batch_size]).sum())
    return correct / len(images)


def train_classifier(dataset: str = "mnist", epochs: int = 4, seed: int = 0,
                     batch_size: int = 128, lr: float = 3e-3, log=print
                     ) -> tuple[Classifier, dict]:
    """Train the metric classifier on ``dataset``'s training split; returns it with a record
    (test accuracy, epochs, seed, seconds). Adam with a one-cycle learning rate and random
    2-pixel shifts; on two CPU cores an epoch takes a few minutes."""
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    x_train, y_train = data.load(dataset, "train", image_size=32)
    x_test, y_test = data.load(dataset, "test", image_size=32)
    model = Classifier()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * math.ceil(len(x_train) / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        order = torch.randperm(len(x_train), generator=gen)
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            loss = F.cross_entropy(model(_augment(x_train[idx], gen)), y_train[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        acc = evaluate_accuracy(model, x_test, y_test)
        log(f"{dataset} epoch {epoch + 1}/{epochs}: test accuracy {acc:.4f} "
            f"({time.perf_counter() - start:.0f} s)")
    model.eval()
    record = {
        "dataset": dataset, "test_accuracy": acc, "epochs": epochs, "seed": seed,
        "batch_size": batch_size, "lr": lr, "seconds": round(time.perf_counter() - start, 1),
        "device": "cpu (2 shared cores)" if not torch.cuda.is_available() else "cuda",
        "command": f"python tools/train_classifier.py --dataset {dataset} --epochs {epochs} "
                   f"--seed {seed}",
    }
    return model, record


def classifier_path(dataset: str) -> Path:
    data._check_choice("dataset", dataset, data.DATASETS)
    return WEIGHTS / f"classifier-{dataset}.safetensors"


def save_classifier(model: Classifier, record: dict, dataset: str) -> None:
    from safetensors.torch import save_file

    path = classifier_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    path.with_suffix(".json").write_text(json.dumps(record, indent=1) + "\n")


def load_classifier(dataset: str = "mnist") -> tuple[Classifier, dict]:
    """The shipped classifier for ``dataset`` in eval mode, with its training record."""
    from safetensors.torch import load_file

    path = classifier_path(dataset)
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: train it with python tools/train_classifier.py --dataset {dataset}"
        )
    try:
        state = load_file(str(path))
    except Exception as exc:
        raise ValueError(f"{path} is not a readable safetensors file ({exc})") from None
    model = Classifier()
    model.load_state_dict(state)
    model.eval()
    record = json.loads(path.with_suffix(".json").read_text())
    return model, record


# ---------------------------------------------------------------- the three measurements

def _batched(model: Classifier, images: torch.Tensor, fn, batch_size: int = 500):
    model.eval()
    with torch.no_grad():
        return torch.cat([fn(images[i:i + batch_size]) for i in range(0, len(images),
                                                                        batch_size)])


def predict_proba(model: Classifier, images: torch.Tensor) -> torch.Tensor:
    """``(N, 10)`` class probabilities p(y|x), float64."""
    check_images(images)
    return _batched(model, images, lambda x: model(x).double().softmax(1))


def features(model: Classifier, images: torch.Tensor) -> torch.Tensor:
    """``(N, 128)`` penultimate features, float64."""
    check_images(images)
    return _batched(model, images, lambda x: model.features(x).double())


def inception_score_from_probs(probs: torch.Tensor) -> float:
    """``exp(mean_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean of the rows of ``probs``."""
    if not isinstance(probs, torch.Tensor) or probs.dim() != 2 or len(probs) < 1:
        raise ValueError(f"probs must be an (N, K) tensor with N >= 1, got {probs!r:.60}")
    p = probs.double()
    if not torch.isfinite(p).all() or (p < 0).any() \
            or not torch.allclose(p.sum(1), torch.ones(len(p), dtype=p.dtype), atol=1e-4):
        raise ValueError("probs must hold finite, non-negative rows that each sum to 1 "
                         "(one probability distribution over the classes per sample)")
    return _inception_score(probs)


def _inception_score(probs: torch.Tensor) -> float:
    """The Inception Score of ``(N, K)`` class probabilities, one row per sample."""
    p = probs.double().clamp_min(1e-30)
    marginal = p.mean(0, keepdim=True)  # p(y): the class shares over all samples
    kl = (p * (p.log() - marginal.log())).sum(1)  # KL(p(y|x) || p(y)), one per sample
    return float(kl.mean().exp())


def inception_score(model: Classifier, images: torch.Tensor) -> float:
    """Classifier Inception Score of ``images`` (between 1 and 10)."""
    return inception_score_from_probs(predict_proba(model, images))


def gaussian_stats(feats: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``(D,)`` and unbiased covariance ``(D, D)`` of ``(N, D)`` features, float64."""
    f = np.asarray(feats.detach().cpu() if isinstance(feats, torch.Tensor) else feats,
                   dtype=np.float64)
    if f.ndim != 2:
        raise ValueError(f"features must be an (N, D) array, got shape {f.shape}")
    if len(f) < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {len(f)}")
    return f.mean(0), np.cov(f, rowvar=False)


def _sqrt_psd(m: np.ndarray) -> np.ndarray:
    """Square root of a symmetric positive semi-definite matrix, by its eigenvectors."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def frechet_from_stats(mu1, s1, mu2, s2) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^(1/2))``.

    ``tr((S1 S2)^(1/2)) = tr((R S2 R)^(1/2))`` with ``R = S1^(1/2)``: ``R S2 R`` is symmetric
    positive semi-definite and has the same eigenvalues as ``S1 S2``, so two symmetric
    eigendecompositions replace the general (and unstable) matrix square root.
    """
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.asarray(s1, np.float64), np.asarray(s2, np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != mu1.shape * 2:
        raise ValueError(f"means {mu1.shape}, {mu2.shape} and covariances {s1.shape}, "
                         f"{s2.shape} must be (D,) and (D, D) for one D")
    for name, a in (("mu1", mu1), ("s1", s1), ("mu2", mu2), ("s2", s2)):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} holds NaN or infinite values")
    for name, s in (("s1", s1), ("s2", s2)):
        lowest = float(np.linalg.eigvalsh((s + s.T) / 2).min())
        if lowest < -PSD_TOLERANCE * max(1.0, float(np.abs(s).max())):
            raise ValueError(f"{name} is not a covariance: its smallest eigenvalue is "
                             f"{lowest:.3g} < 0")
    # rounding in the square roots can leave a distance of a set to itself at -1e-6
    return max(0.0, _frechet(mu1, s1, mu2, s2))


def _frechet(mu1, s1, mu2, s2) -> float:
    """The squared Fréchet distance of two Gaussians, float64 means and covariances."""
    r = _sqrt_psd(s1)  # R = S1^(1/2)
    middle = r @ s2 @ r  # symmetric, with the eigenvalues of S1 S2
    w = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_sqrt = float(np.sqrt(np.clip(w, 0, None)).sum())  # tr((S1 S2)^(1/2))
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt)


def frechet_distance(model: Classifier, images_a: torch.Tensor, images_b: torch.Tensor
                     ) -> float:
    """Fréchet distance between two image sets in the classifier's feature space."""
    check_images(images_a, 2, "images_a")
    check_images(images_b, 2, "images_b")
    return frechet_from_stats(*gaussian_stats(features(model, images_a)),
                              *gaussian_stats(features(model, images_b)))


def frechet_bootstrap(feats_a, feats_b, n_boot: int = 200, seed: int = 0) -> np.ndarray:
    """``n_boot`` Fréchet distances, each between the two feature sets ``(N, D)`` resampled
    with replacement (the same size as the originals): their spread is the distance's
    sampling uncertainty, and their percentiles a bootstrap interval."""
    a, b = np.asarray(feats_a, np.float64), np.asarray(feats_b, np.float64)
    rng = np.random.default_rng(seed)
    out = np.empty(n_boot)
    for i in range(n_boot):
        ia, ib = rng.integers(0, len(a), len(a)), rng.integers(0, len(b), len(b))
        out[i] = frechet_from_stats(*gaussian_stats(a[ia]), *gaussian_stats(b[ib]))
    return out


def coverage_from_counts(counts) -> float:
    """KL divergence (nats) of the normalised histogram ``counts`` from the uniform one;
    0 for equal counts, ``log K`` when one of ``K`` classes takes everything."""
    c = np.asarray(counts, dtype=np.float64)
    if c.ndim != 1 or len(c) < 1 or not np.isfinite(c).all() or (c < 0).any() \
            or c.sum() <= 0:
        raise ValueError(f"counts must be a 1-D array of non-negative numbers with a "
                         f"positive sum, got {counts!r}")
    p = c / c.sum()
    nz = p > 0
    return float((p[nz] * np.log(p[nz] * len(c))).sum())


def class_coverage(model: Classifier, images: torch.Tensor) -> tuple[np.ndarray, float]:
    """Predicted-class histogram ``(10,)`` of ``images`` and its KL divergence from uniform."""
    pred = predict_proba(model, images).argmax(1)
    counts = np.bincount(pred.numpy(), minlength=NUM_CLASSES)
    return counts, coverage_from_counts(counts)


def probability_scores(probs: torch.Tensor) -> dict:
    """What one image set's class probabilities ``(N, 10)`` say: the inception score, the
    predicted-class histogram and its KL divergence from uniform, and the share of images
    whose most likely class has probability below 0.9."""
    counts = np.bincount(probs.argmax(1).numpy(), minlength=NUM_CLASSES)
    return {"inception_score": inception_score_from_probs(probs),
            "coverage_kl": coverage_from_counts(counts), "class_counts": counts.tolist(),
            "share_below_0.9": float(np.mean(probs.max(1).values.numpy() < 0.9))}


def real_floor(model: Classifier, dataset: str, n: int = 2000) -> float:
    """Fréchet distance between ``n`` real training and ``n`` real test images: the value
    a perfect generator would reach with ``n`` samples."""
    train, _ = data.load(dataset, "train", image_size=32, limit=n)
    test, _ = data.load(dataset, "test", image_size=32, limit=n)
    return frechet_distance(model, train, test)
