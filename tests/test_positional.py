"""utils.positional: sinusoidal encodings, their shift matrices and rotary embeddings (chapters 11, 14)."""

import math

import pytest
import torch

from utils.positional import rotate_pairs, shift_matrix, sinusoidal_encoding, sinusoidal_frequencies


def test_sinusoidal_encoding_by_its_definition():
    pe = sinusoidal_encoding(50, 16)
    assert pe.shape == (50, 16) and pe.dtype == torch.float32
    for p in (0, 1, 7, 49):
        for i in range(8):
            angle = p / 10000 ** (2 * i / 16)
            assert pe[p, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[p, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert torch.equal(sinusoidal_encoding([0, 5], 16), pe[[0, 5]])
    assert torch.equal(sinusoidal_encoding(torch.tensor([3, 9]), 16), pe[[3, 9]])


def test_sinusoidal_encoding_of_float_time_steps_and_other_bases():
    t = torch.tensor([0.0, 0.5, 999.0])  # diffusion time steps (chapter 14) may be floats
    pe = sinusoidal_encoding(t, 8, base=100.0)
    assert pe.shape == (3, 8)
    assert pe[1, 2].item() == pytest.approx(math.sin(0.5 / 100 ** (2 / 8)), abs=1e-6)
    assert torch.allclose(sinusoidal_frequencies(8, base=100.0), 100.0 ** (-torch.arange(0, 8, 2) / 8))


@pytest.mark.parametrize(
    "positions, dim, message",
    [
        (4, 7, "positive even"),
        (4, 0, "positive even"),
        (torch.zeros(2, 2), 4, "one-dimensional"),
    ],
)
def test_sinusoidal_encoding_rejects_bad_arguments(positions, dim, message):
    with pytest.raises(ValueError, match=message):
        sinusoidal_encoding(positions, dim)


@pytest.mark.parametrize("k", [1, 13, 250])
def test_a_shift_is_a_linear_map_that_depends_on_the_shift_only(k):
    positions = torch.arange(300)
    M = shift_matrix(k, 32)
    torch.testing.assert_close(
        sinusoidal_encoding(positions, 32) @ M.T, sinusoidal_encoding(positions + k, 32), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(M @ M.T, torch.eye(32), atol=1e-6, rtol=0)  # a rotation


def test_rotary_scores_depend_on_the_offset_only():
    gen = torch.Generator().manual_seed(0)
    q, k = (
        torch.randn(16, generator=gen, dtype=torch.float64),
        torch.randn(16, generator=gen, dtype=torch.float64),
    )
    m = torch.arange(40)
    scores = (rotate_pairs(q.expand(40, 16), m) * rotate_pairs(k.expand(40, 16), m + 3)).sum(-1)
    torch.testing.assert_close(scores, scores[:1].expand(40))
    rotated = rotate_pairs(q.expand(2, 5, 16), torch.arange(5))  # leading axes, dtype kept
    assert rotated.shape == (2, 5, 16) and rotated.dtype == torch.float64
    torch.testing.assert_close(rotated.norm(dim=-1), q.norm().expand(2, 5))
    torch.testing.assert_close(rotated[0, 0], q)  # position 0: no rotation
