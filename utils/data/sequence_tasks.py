"""Synthetic sequence tasks (chapter 10): problems whose difficulty is a knob, the distance to remember.

- ``adding_problem``: Hochreiter and Schmidhuber's (1997) test of long memory. Each step carries a
  random number and a marker; the target, read at the end, is the sum of the two marked numbers.
  One marker sits in the first half of the sequence, so a model must carry a number over at least
  half the length. Predicting the mean (1.0) scores a mean squared error of 1/6.
- ``reversal_batch``: a source sequence of digits and the same digits reversed, for encoder-decoder
  (seq2seq) models: the first output needs the last input and the last output the first one.

Both return tensors drawn from a ``torch.Generator``, so a seed gives the same data everywhere.
"""

import torch

ADDING_BASELINE_MSE = 1 / 6  # the variance of the sum of two U(0, 1) numbers


def adding_problem(n, length, generator=None):
    """``(x, y)``: ``x`` float32 ``[n, length, 2]`` (number, marker), ``y`` float32 ``[n]``.

    Channel 0 holds numbers drawn from U(0, 1); channel 1 is 1.0 at exactly two steps, one in
    the first half and one in the second half, and 0 elsewhere; ``y`` is the sum of the two
    marked numbers.
    """
    if length < 2:
        raise ValueError(f"the adding problem needs a length of at least 2, got {length}")
    values = torch.rand(n, length, generator=generator)
    half = length // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, length, (n,), generator=generator)
    markers = torch.zeros(n, length)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    y = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), y


def reversal_batch(n, length, vocab=10, generator=None):
    """``(source, target)``: int64 ``[n, length]`` tokens in ``0..vocab-1`` and the same rows reversed."""
    if length < 1 or vocab < 2:
        raise ValueError(f"need length >= 1 and vocab >= 2, got length={length}, vocab={vocab}")
    source = torch.randint(0, vocab, (n, length), generator=generator)
    return source, source.flip(1)
