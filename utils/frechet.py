"""The Fréchet distance between two sets of features, and its floor between two real samples.

Fit a Gaussian to each set (mean ``mu``, covariance ``S``); the Fréchet (2-Wasserstein)
distance between the two Gaussians is

    |mu_a - mu_b|^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

With image features from a classifier this is the FID idea. Two samples of *real*
images are at a distance above zero too, larger the fewer samples there are: that floor
is what a generator's number must be read against.
"""

import numpy as np
import torch


def gaussian_fit(features):
    """Mean [D] and covariance [D, D] of features [N, D], in float64 (needs N >= 2)."""
    x = torch.as_tensor(features).detach().to("cpu", torch.float64)
    if x.dim() != 2 or len(x) < 2:
        raise ValueError(f"features must be [N, D] with N >= 2, not {list(x.shape)}")
    return x.mean(0), torch.cov(x.T)


def frechet_distance(features_a, features_b):
    """The Fréchet distance between Gaussians fitted to features [N_a, D] and [N_b, D], a float.

    ``tr((S_a S_b)^(1/2))`` is computed as the sum of the square roots of the eigenvalues of
    the symmetric matrix ``S_a^(1/2) S_b S_a^(1/2)``, which has the same eigenvalues as
    ``S_a S_b``; symmetric eigen-decompositions are stable where a general matrix square
    root is not. Eigenvalues that rounding made slightly negative count as zero.
    """
    mu_a, cov_a = gaussian_fit(features_a)
    mu_b, cov_b = gaussian_fit(features_b)
    if mu_a.shape != mu_b.shape:
        raise ValueError(f"the feature sizes differ: {mu_a.numel()} and {mu_b.numel()}")
    sqrt_a = _symmetric_sqrt(cov_a)
    product = sqrt_a @ cov_b @ sqrt_a
    trace_sqrt = torch.linalg.eigvalsh((product + product.T) / 2).clamp(min=0).sqrt().sum()
    distance = (mu_a - mu_b).square().sum() + cov_a.trace() + cov_b.trace() - 2 * trace_sqrt
    return float(distance)


def frechet_floor(features_a, features_b, sizes, draws, seed=0):
    """Real-vs-real Fréchet distances: ``{size: (mean, std, count)}`` over disjoint draws.

    For each sample size, ``features_a`` and ``features_b`` (say, test and training images)
    are each shuffled and cut into disjoint chunks of ``size``; up to ``draws`` pairs of
    chunks give one distance each. The std is the sample standard deviation across pairs.
    """
    generator = np.random.default_rng(seed)
    order_a = torch.as_tensor(generator.permutation(len(features_a)))
    order_b = torch.as_tensor(generator.permutation(len(features_b)))
    floor = {}
    for size in sizes:
        count = min(draws, len(features_a) // size, len(features_b) // size)
        if count < 2:
            raise ValueError(f"{size} samples allow fewer than 2 disjoint draws; pass more features")
        distances = [frechet_distance(features_a[order_a[i * size:(i + 1) * size]],
                                      features_b[order_b[i * size:(i + 1) * size]]) for i in range(count)]
        floor[size] = (float(np.mean(distances)), float(np.std(distances, ddof=1)), count)
    return floor


def _symmetric_sqrt(matrix):
    values, vectors = torch.linalg.eigh(matrix)
    return vectors @ torch.diag(values.clamp(min=0).sqrt()) @ vectors.T
