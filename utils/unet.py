"""U-Nets: one encoder-decoder skeleton, built from whichever block a chapter gives it.

The U-Net (Ronneberger, Fischer and Brox, 2015) is an encoder that halves the image's
resolution level by level, a decoder that doubles it back, and *skip connections* that hand
each decoder level the encoder's features at the same resolution, concatenated to its own:
the coarse levels see the whole image, the skips keep the fine detail. ``UNetSkeleton`` is
that wiring and nothing else; the blocks, the down- and upsampling layers, and what comes
before and after the U are parameters. Chapter 9 fills it with conv-BN-ReLU blocks to segment
images; chapter 14 with the residual blocks below, which also read a conditioning vector.

A diffusion model's network must know *how noisy* its input is, so every ``ResBlock`` adds a
projection of a conditioning vector to its features. ``TimeClassEmbedding`` builds that vector
from the time step (its sinusoidal encoding, as for positions in chapter 11, through a small
MLP) plus, optionally, a learned embedding of the class; the extra index ``num_classes`` means
"no class", which is what classifier-free guidance trains with and samples from.
"""

import functools

import torch
from torch import nn

from utils.positional import sinusoidal_encoding


class UNetSkeleton(nn.Module):
    """The U of a U-Net; a subclass adds what comes before and after it, and its ``forward``.

    A subclass calls ``build_levels`` in its ``__init__`` and ``run_levels`` in its ``forward``.
    They are methods rather than the constructor so that the subclass decides where the U's
    layers come among its own: the order in which layers are created fixes their random
    initial weights (and the book model's parameter names).
    """

    def build_levels(self, channels, widths, block, downsample, upsample, middle=1, skips=True):
        """Create the U's layers for inputs of ``channels`` channels.

        ``widths`` are the channels of each resolution level, full resolution first. Each level
        has one ``block(c_in, c_out)`` on the way down and one on the way up; ``middle`` more
        blocks sit at the bottom. ``downsample(c)`` halves the resolution between two levels,
        ``upsample(c_in, c_out)`` doubles it back. ``skips=False`` builds the same U without its
        skip connections (the decoder blocks then read fewer channels). The U's output has
        ``widths[0]`` channels, at the input's resolution.
        """
        self.skips = skips
        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        for level, width in enumerate(widths):
            self.down.append(block(channels, width))
            channels = width
            if level < len(widths) - 1:
                self.downsample.append(downsample(width))
        self.middle = nn.ModuleList([block(channels, channels) for _ in range(middle)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level in reversed(range(len(widths))):
            # with skips, the decoder block reads its own features and the encoder's, concatenated
            self.up.append(block(channels + widths[level] if skips else channels, widths[level]))
            channels = widths[level]
            if level > 0:
                self.upsample.append(upsample(channels, widths[level - 1]))
                channels = widths[level - 1]

    def run_levels(self, h, *cond):
        """Features [N, C, H, W] -> [N, widths[0], H, W]; every block also gets ``*cond``."""
        kept = []  # the encoder's output at every level, for the decoder's skip connections
        for level, block in enumerate(self.down):
            h = block(h, *cond)
            kept.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        for block in self.middle:
            h = block(h, *cond)
        for level, block in enumerate(self.up):
            skip = kept.pop()  # same resolution as h: the levels are undone in reverse order
            h = block(torch.cat([h, skip], dim=1) if self.skips else h, *cond)
            if level < len(self.upsample):
                h = self.upsample[level](h)
        return h


def group_norm(channels):
    """Group normalisation with up to 8 groups: batch norm's statistics would mix noise levels."""
    return nn.GroupNorm(min(8, channels), channels)


class ResBlock(nn.Module):
    """Two 3x3 convolutions with a shortcut; the conditioning vector shifts the features in between.

    ``x`` [N, C_in, H, W] and ``cond`` [N, cond_dim] -> [N, C_out, H, W].
    """

    def __init__(self, in_channels, out_channels, cond_dim):
        super().__init__()
        self.norm1 = group_norm(in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.cond = nn.Linear(cond_dim, out_channels)  # one shift per channel, for every pixel
        self.norm2 = group_norm(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
        self.act = nn.SiLU()

    def forward(self, x, cond):
        h = self.conv1(self.act(self.norm1(x)))
        h = h + self.cond(cond)[:, :, None, None]
        h = self.conv2(self.act(self.norm2(h)))
        return h + self.skip(x)


class TimeClassEmbedding(nn.Module):
    """Time steps [N] (and class labels [N], ``num_classes`` = no class) -> vectors [N, dim]."""

    def __init__(self, dim, num_classes=None):
        super().__init__()
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))
        self.classes = nn.Embedding(num_classes + 1, dim) if num_classes is not None else None

    def forward(self, t, labels=None):
        cond = self.mlp(sinusoidal_encoding(t, self.dim).to(self.mlp[0].weight.dtype))
        if self.classes is not None:
            if labels is None:  # no label given: every image is "no class"
                labels = torch.full_like(t, self.classes.num_embeddings - 1, dtype=torch.long)
            cond = cond + self.classes(labels)
        return cond


def upsample_conv(in_channels, out_channels):
    """Nearest-neighbour upsampling then a 3x3 convolution: no checkerboard (chapter 9)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                         nn.Conv2d(in_channels, out_channels, 3, padding=1))


class UNet(UNetSkeleton):
    """Noisy images [N, C, H, W], time steps [N] (and labels [N]) -> a tensor shaped like the images.

    The skeleton with ``ResBlock``s, stride-2 convolutions down and ``upsample_conv`` up, two
    blocks in the middle, a 3x3 convolution before the U and a normalised one after it.
    ``widths`` are the channels of each resolution level: with three levels a 28x28 image is
    seen at 28, 14 and 7 pixels (H and W must divide by ``2 ** (len(widths) - 1)``).
    """

    def __init__(self, image_channels=1, widths=(32, 64, 64), cond_dim=128, num_classes=None):
        super().__init__()
        self.num_classes = num_classes
        self.embed = TimeClassEmbedding(cond_dim, num_classes)
        self.stem = nn.Conv2d(image_channels, widths[0], 3, padding=1)
        self.build_levels(widths[0], widths, block=functools.partial(ResBlock, cond_dim=cond_dim),
                          downsample=lambda c: nn.Conv2d(c, c, 3, stride=2, padding=1),
                          upsample=upsample_conv, middle=2)
        self.head = nn.Sequential(group_norm(widths[0]), nn.SiLU(),
                                  nn.Conv2d(widths[0], image_channels, 3, padding=1))

    def forward(self, x, t, labels=None):
        cond = self.embed(t, labels)
        return self.head(self.run_levels(self.stem(x), cond))
