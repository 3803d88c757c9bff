"""Mini-batches straight from tensors: the fast path for datasets that fit in memory.

``DataLoader(TensorDataset(x, y))`` indexes one example at a time and stacks the
results, which costs more than a small model's forward pass. When the whole dataset
is already a tensor on the training device, a batch is one indexing operation.
"""

import math

import torch
import torch.nn.functional as F


class TensorBatches:
    """Iterate ``(xb, yb)`` mini-batches over tensors ``x`` and ``y`` on their own device.

    ``shuffle`` draws a new order every epoch from ``self.generator``, a ``torch.Generator``
    on the data's device; seed it with ``seed``, or pass your own ``generator``; with
    neither it is seeded from torch's global RNG, so ``seed_everything`` fixes it too.
    The Trainer saves and restores this generator, so a resumed run shuffles exactly
    like an uninterrupted one.

    ``augment=True`` (images [N, C, H, W] only) randomly flips each image left-right and
    crops it back to H x W after zero-padding ``crop_padding`` pixels on every side,
    computed for the whole batch at once on the device.
    """

    def __init__(self, x, y, batch_size, shuffle=True, augment=False, drop_last=False,
                 seed=None, generator=None, crop_padding=2):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} examples but y has {len(y)}")
        if augment and x.dim() != 4:
            raise ValueError(f"augment=True needs images shaped [N, C, H, W], not {list(x.shape)}")
        if seed is not None and generator is not None:
            raise ValueError("pass seed or generator, not both")
        self.x, self.y = x, y
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.augment, self.crop_padding = augment, crop_padding
        if generator is None:
            generator = torch.Generator(device=x.device)
            generator.manual_seed(seed if seed is not None else int(torch.randint(2**62, ())))
        self.generator = generator

    def __len__(self):
        """Batches per epoch."""
        if self.drop_last:
            return len(self.x) // self.batch_size
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        n = len(self.x)
        order = torch.randperm(n, generator=self.generator, device=self.x.device) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if order is None:  # in order: a slice is a view, no copy at all
                xb, yb = self.x[start:start + self.batch_size], self.y[start:start + self.batch_size]
            else:
                batch = order[start:start + self.batch_size]
                xb, yb = self.x.index_select(0, batch), self.y.index_select(0, batch)  # x[batch], faster
            if self.augment:
                xb = random_flip_and_crop(xb, self.crop_padding, self.generator)
            yield xb, yb


def random_flip_and_crop(images, padding, generator):
    """Flip each image left-right with probability 1/2, then crop it at a random offset
    from its copy padded with ``padding`` zeros on every side. Same shape out as in."""
    n, channels, height, width = images.shape
    device = images.device
    flip = torch.rand(n, generator=generator, device=device) < 0.5
    images = torch.where(flip.view(n, 1, 1, 1), images.flip(3), images)
    padded = F.pad(images, (padding, padding, padding, padding))
    top = torch.randint(2 * padding + 1, (n, 1, 1, 1), generator=generator, device=device)
    left = torch.randint(2 * padding + 1, (n, 1, 1, 1), generator=generator, device=device)
    # Keep rows top .. top + height - 1 of each padded image, then columns left .. left + width - 1.
    rows = top + torch.arange(height, device=device).view(1, 1, height, 1)
    cols = left + torch.arange(width, device=device).view(1, 1, 1, width)
    kept_rows = padded.gather(2, rows.expand(n, channels, height, width + 2 * padding))
    return kept_rows.gather(3, cols.expand(n, channels, height, width))
