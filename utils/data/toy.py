"""Small datasets for first experiments: 2-D toy problems and 8x8 digits.

Each 2-D generator returns ``(X, y)``: X float32 [n, 2], y int64 [n], reproducible from
``seed``. They are made from scratch here or by scikit-learn, so they have no licence
of their own beyond scikit-learn's BSD-3-Clause.
"""

import math

import sklearn.datasets
import torch


def make_moons(n=1000, noise=0.1, seed=0):
    """Two interleaving half circles (two classes), from scikit-learn's ``make_moons``."""
    X, y = sklearn.datasets.make_moons(n_samples=n, noise=noise, random_state=seed)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_circles(n=1000, noise=0.05, factor=0.5, seed=0):
    """A circle inside another (two classes), from scikit-learn's ``make_circles``.

    ``factor`` is the inner circle's radius relative to the outer one's.
    """
    X, y = sklearn.datasets.make_circles(n_samples=n, noise=noise, factor=factor, random_state=seed)
    return torch.tensor(X, dtype=torch.float32), torch.tensor(y, dtype=torch.int64)


def make_spirals(n=1000, classes=3, noise=0.1, seed=0, turns=1.0):
    """``classes`` spiral arms winding out from the origin, one class per arm.

    Example i belongs to arm ``i % classes``, so any prefix of the data is balanced.
    Points lie at radius t in [0, 1) and angle ``2*pi*(arm/classes + turns*t)``, plus
    Gaussian noise of standard deviation ``noise`` on each coordinate.
    """
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    t = torch.rand(n, generator=generator)
    angle = 2 * math.pi * (y / classes + turns * t)
    X = t[:, None] * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X = X + noise * torch.randn(n, 2, generator=generator)
    return X.float(), y


def load_digits():
    """scikit-learn's 1,797 handwritten digits as ``(x, y)``: x float32 [1797, 1, 8, 8] in [0, 1], y int64.

    Origin: the UCI ML "Optical Recognition of Handwritten Digits" set (Alpaydin and
    Kaynak, 1998), which scikit-learn ships, so it works offline. Licence: CC BY 4.0.
    Pixels count the inked cells of a 4x4 block (0 to 16); they are divided by 16.
    """
    digits = sklearn.datasets.load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16
    return x, torch.tensor(digits.target, dtype=torch.int64)
