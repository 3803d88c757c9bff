"""Latent-space explorer: the decoder of a VAE with a 2-D latent, on a map of the test set.

Python decodes a regular grid of latent points once (the decoder is the real one: the
chapter passes the 2-D VAE book model) and encodes a few hundred test images to their
latent means, coloured by class, and a few test images per class that the reader can pick.
``latent_explorer.js`` lets the reader drag a point over the plane and shows the decoded
image there; the reader taps two of the pickable images (A and B) and walks the straight
line between their latent means. Between grid points the widget blends the four nearest
decoded images (bilinearly): with a fine grid that is close to decoding the point itself,
and the payload stays small.

Images travel as 4-bit grey levels (16 shades, two pixels a byte), base64-encoded.

    from utils.widgets.latent_explorer import LatentExplorer, latent_explorer_data
    LatentExplorer(latent_explorer_data(vae, test_x, test_y, FASHION_CLASSES))
"""

import base64
import pathlib

import torch

from .base import BookWidget

LEVELS = 15  # 4 bits: grey levels 0..15


def pack_images(images):
    """Images [N, H, W] (or [N, 1, H, W]) in [0, 1] -> one base64 string, 4 bits a pixel.

    Pixel ``2k`` of the flattened images is the high nibble of byte ``k``; an odd total
    gets a zero nibble at the end.
    """
    levels = (
        (torch.as_tensor(images).detach().float().cpu().clamp(0, 1) * LEVELS)
        .round()
        .to(torch.uint8)
        .flatten()
    )
    if len(levels) % 2:
        levels = torch.cat([levels, torch.zeros(1, dtype=torch.uint8)])
    packed = (levels[0::2] << 4) | levels[1::2]
    return base64.b64encode(bytes(packed.tolist())).decode("ascii")


def unpack_images(text, count, side=28):
    """The inverse of :func:`pack_images`: images [count, side, side] with values k / 15."""
    packed = torch.tensor(list(base64.b64decode(text)), dtype=torch.uint8)
    levels = torch.stack([packed >> 4, packed & 15], dim=1).flatten()[: count * side * side]
    return levels.float().div(LEVELS).reshape(count, side, side)


def grid_latents(size, extent):
    """The ``size`` x ``size`` grid of latent points [size*size, 2] over [-extent, extent]^2,
    row by row from the top (z2 = +extent) and, in each row, left to right (z1 increasing)."""
    ticks = torch.linspace(-extent, extent, size)
    z2, z1 = torch.meshgrid(ticks.flip(0), ticks, indexing="ij")
    return torch.stack([z1.flatten(), z2.flatten()], dim=1)


@torch.no_grad()
def latent_explorer_data(
    model, images, labels, class_names, *, grid=15, extent=3.0, scatter=600, per_class=4, seed=0
):
    """The JSON payload of :class:`LatentExplorer` for a VAE with a 2-D latent.

    ``model`` needs ``encode(x) -> (mu, log_var)`` and ``decode(z) -> pixel logits``;
    ``images`` [N, 1, 28, 28] in [0, 1] and ``labels`` [N] are test images. The scatter
    shows the latent means of ``scatter`` of them (drawn with ``seed``); the reader can pick
    the first ``per_class`` images of each class, sent with their index, label and latent mean.
    """
    model.eval()
    device = next(model.parameters()).device
    mu, _ = model.encode(images[:1].to(device))
    if mu.shape[1] != 2:
        raise ValueError(f"the latent explorer needs a 2-D latent; this model's has {mu.shape[1]} dimensions")
    images, labels = torch.as_tensor(images), torch.as_tensor(labels).cpu()
    decoded = torch.sigmoid(model.decode(grid_latents(grid, extent).to(device))).cpu()
    picked = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:scatter]
    means = model.encode(images[picked].to(device))[0].cpu()
    picks = [int(i) for c in range(len(class_names)) for i in (labels == c).nonzero().flatten()[:per_class]]
    pick_means = model.encode(images[picks].to(device))[0].cpu()
    return {
        "grid": grid,
        "extent": float(extent),
        "side": 28,
        "decoded": pack_images(decoded),
        "classes": list(class_names),
        "scatter": [  # two decimals: a hundredth of a unit is half a pixel of the map
            [round(float(a), 2), round(float(b), 2), int(labels[i])] for (a, b), i in zip(means, picked)
        ],
        "picks": [
            {"index": i, "label": int(labels[i]), "z": [round(float(a), 3), round(float(b), 3)]}
            for i, (a, b) in zip(picks, pick_means)
        ],
        "pick_images": pack_images(images[picks]),
    }


class LatentExplorer(BookWidget):
    """Drag a point over a 2-D latent plane and see the decoder's image; interpolate between
    two test images picked from thumbnails. ``data`` comes from :func:`latent_explorer_data`."""

    _esm = pathlib.Path(__file__).with_name("latent_explorer.js")

    def __init__(self, data, **kwargs):
        missing = {"grid", "extent", "decoded", "classes", "scatter", "picks", "pick_images"} - set(data)
        if missing:
            raise ValueError(f"not a latent_explorer_data payload: missing {sorted(missing)}")
        super().__init__(data, **kwargs)
