"""A small U-Net for images, whose blocks read a conditioning vector (e.g. a diffusion time step).

The U-Net (Ronneberger, Fischer and Brox, 2015) is an encoder that halves the image's
resolution level by level, a decoder that doubles it back, and *skip connections* that hand
each decoder level the encoder's features at the same resolution: the coarse levels see the
whole image, the skips keep the fine detail. A diffusion model's network must also know
*how noisy* its input is, so every residual block adds a projection of a conditioning
vector to its features. ``TimeClassEmbedding`` builds that vector from the time step (its
sinusoidal encoding, as for positions in chapter 11, through a small MLP) plus, optionally,
a learned embedding of the class; the extra index ``num_classes`` means "no class", which
is what classifier-free guidance trains with and samples from.
"""

import torch
from torch import nn

from utils.positional import sinusoidal_encoding


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


class UNet(nn.Module):
    """Noisy images [N, C, H, W], time steps [N] (and labels [N]) -> a tensor shaped like the images.

    ``widths`` are the channels of each resolution level: with three levels a 28x28 image is
    seen at 28, 14 and 7 pixels (H and W must divide by ``2 ** (len(widths) - 1)``). Each level
    has one residual block on the way down and one on the way up; two more sit at the bottom.
    """

    def __init__(self, image_channels=1, widths=(32, 64, 64), cond_dim=128, num_classes=None):
        super().__init__()
        self.num_classes = num_classes
        self.embed = TimeClassEmbedding(cond_dim, num_classes)
        self.stem = nn.Conv2d(image_channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        channels = widths[0]
        for level, width in enumerate(widths):
            self.down.append(ResBlock(channels, width, cond_dim))
            channels = width
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.middle = nn.ModuleList([ResBlock(channels, channels, cond_dim) for _ in range(2)])
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level in reversed(range(len(widths))):
            # The decoder block reads its own features and the skip from the encoder, concatenated.
            self.up.append(ResBlock(channels + widths[level], widths[level], cond_dim))
            channels = widths[level]
            if level > 0:
                self.upsample.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                                   nn.Conv2d(channels, widths[level - 1], 3, padding=1)))
                channels = widths[level - 1]
        self.head = nn.Sequential(group_norm(channels), nn.SiLU(),
                                  nn.Conv2d(channels, image_channels, 3, padding=1))

    def forward(self, x, t, labels=None):
        cond = self.embed(t, labels)
        h = self.stem(x)
        skips = []
        for level, block in enumerate(self.down):
            h = block(h, cond)
            skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
        for block in self.middle:
            h = block(h, cond)
        for level, block in enumerate(self.up):
            h = block(torch.cat([h, skips.pop()], dim=1), cond)
            if level < len(self.upsample):
                h = self.upsample[level](h)
        return self.head(h)
