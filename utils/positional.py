"""Position encodings: telling an order-blind layer where each element sits.

Attention treats its inputs as a set; these functions give each position (a token's index,
or a diffusion model's time step) a vector the network can read. Chapter 11 builds them;
chapter 14 reuses ``sinusoidal_encoding`` for the diffusion time embedding.
"""

import math

import torch


def sinusoidal_frequencies(dim, base=10000.0, dtype=torch.float32):
    """The ``dim // 2`` angular frequencies ``base ** (-2i / dim)``, from 1 down towards ``1 / base``."""
    if dim < 2 or dim % 2:
        raise ValueError(f"dim must be a positive even number, got {dim}")
    return torch.exp(-math.log(base) * torch.arange(0, dim, 2, dtype=dtype) / dim)


def sinusoidal_encoding(positions, dim, base=10000.0):
    """Sinusoidal encodings of ``positions``: a float32 tensor ``[len(positions), dim]``.

    Row ``p`` holds ``sin(p * w_i)`` in its even columns and ``cos(p * w_i)`` in its odd
    columns, for the frequencies ``w_i = base ** (-2i / dim)`` (Vaswani et al., 2017).
    ``positions`` may be an int (meaning ``range(positions)``), a list, or a tensor of ints
    or floats (diffusion time steps need not be integers). Because each pair of columns is
    a point on a circle turning at its own speed, shifting every position by ``k`` rotates
    each pair by a fixed angle: ``PE(p + k)`` is a linear map of ``PE(p)`` that depends on
    ``k`` only (``shift_matrix``).
    """
    if isinstance(positions, int):
        positions = torch.arange(positions)
    positions = torch.as_tensor(positions)
    if positions.dim() != 1:
        raise ValueError(f"positions must be one-dimensional, got shape {tuple(positions.shape)}")
    frequencies = sinusoidal_frequencies(dim, base).to(positions.device)
    angles = positions.to(torch.float32)[:, None] * frequencies  # [len, dim / 2]
    encoding = torch.empty(len(positions), dim, device=positions.device)
    encoding[:, 0::2] = torch.sin(angles)
    encoding[:, 1::2] = torch.cos(angles)
    return encoding


def shift_matrix(k, dim, base=10000.0):
    """The ``[dim, dim]`` matrix ``M`` with ``PE(p + k) = PE(p) @ M.T`` for every position ``p``.

    It is block-diagonal: one 2x2 rotation by ``k * w_i`` per (sin, cos) pair of columns.
    """
    angles = k * sinusoidal_frequencies(dim, base)
    cos, sin = torch.cos(angles), torch.sin(angles)
    matrix = torch.zeros(dim, dim)
    even = torch.arange(0, dim, 2)
    # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
    matrix[even, even], matrix[even, even + 1] = cos, sin
    matrix[even + 1, even], matrix[even + 1, even + 1] = -sin, cos
    return matrix


def rotate_pairs(x, positions, base=10000.0):
    """Rotary position embedding (RoPE): rotate each (even, odd) pair of ``x``'s last axis.

    ``x`` is ``[..., length, dim]`` (queries or keys, per head); the pair ``i`` at position
    ``p`` turns by the angle ``p * base ** (-2i / dim)``. Rotating queries and keys this way
    makes their dot product depend on the positions only through ``p_query - p_key``
    (Su et al., 2021). Returns a new tensor of ``x``'s shape and dtype.
    """
    dim = x.shape[-1]
    positions = torch.as_tensor(positions, device=x.device)
    # angles in float64 where the device has it (Apple MPS has not), rounded to x's dtype at the end
    exact = torch.float64 if x.device.type in ("cpu", "cuda") else torch.float32
    angles = positions.to(exact)[:, None] * sinusoidal_frequencies(dim, base, exact).to(x.device)
    cos, sin = torch.cos(angles).to(x.dtype), torch.sin(angles).to(x.dtype)
    even, odd = x[..., 0::2], x[..., 1::2]
    rotated = torch.empty_like(x)
    rotated[..., 0::2] = even * cos - odd * sin
    rotated[..., 1::2] = even * sin + odd * cos
    return rotated
