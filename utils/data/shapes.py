"""Generated shapes for segmentation: circles, squares and triangles on a noisy background.

Every pixel has a class label: 0 background, 1 circle, 2 square, 3 triangle. Each image gets
one to ``max_shapes`` shapes of random class, position, size and brightness; shapes may
overlap, and a later shape covers an earlier one (its label wins where they overlap), so a
model has to tell the classes apart by geometry, not by brightness. Gaussian noise is added
last. The same ``seed`` always gives the same images, and the whole set is drawn at once
with tensor operations (thousands of images per second on a CPU).

    images, masks = make_shapes(1000, size=32, seed=0)   # [1000, 1, 32, 32] float, [1000, 32, 32] int64
"""

import torch

SHAPE_CLASSES = ("background", "circle", "square", "triangle")


def _inside(kind, xs, ys, cx, cy, r):
    """Boolean masks [N, H, W] of the pixels inside one shape per image (centres and radii [N, 1, 1])."""
    dx, dy = xs - cx, ys - cy
    circle = dx**2 + dy**2 <= r**2
    square = (dx.abs() <= r * 0.85) & (dy.abs() <= r * 0.85)  # about the area of the circle
    # An upright triangle: apex r above the centre, base r below it, as wide as it is tall.
    triangle = (dy <= r) & (dx.abs() <= (dy + r) / 2)
    return torch.where(kind == 1, circle, torch.where(kind == 2, square, triangle))


def make_shapes(n, size=32, seed=0, max_shapes=3, noise=0.15, min_radius=3.0, max_radius=None):
    """``n`` images of ``size`` x ``size`` pixels and their per-pixel labels.

    Returns ``(images, masks)``: float32 images [n, 1, size, size] (background about 0, shapes
    between 0.5 and 1, plus N(0, noise^2) noise) and int64 masks [n, size, size] with values in
    ``range(len(SHAPE_CLASSES))``. Radii are drawn from [min_radius, max_radius] pixels
    (by default max_radius is size / 4, at least min_radius).
    """
    if n < 0 or size < 8 or max_shapes < 1:
        raise ValueError(f"need n >= 0, size >= 8 and max_shapes >= 1, got {n}, {size}, {max_shapes}")
    if noise < 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
    max_radius = max(size / 4, min_radius) if max_radius is None else max_radius
    if not 0 < min_radius <= max_radius:
        raise ValueError(f"need 0 < min_radius <= max_radius, got {min_radius}, {max_radius}")
    gen = torch.Generator().manual_seed(seed)
    coords = torch.arange(size, dtype=torch.float32) + 0.5  # pixel centres
    ys, xs = coords.view(1, size, 1), coords.view(1, 1, size)
    images = torch.zeros(n, size, size)
    masks = torch.zeros(n, size, size, dtype=torch.int64)
    count = torch.randint(1, max_shapes + 1, (n,), generator=gen)

    def draw(low, high):
        return low + (high - low) * torch.rand(n, 1, 1, generator=gen)

    for slot in range(max_shapes):
        kind = torch.randint(1, len(SHAPE_CLASSES), (n, 1, 1), generator=gen)
        r = draw(min_radius, max_radius)
        cx = r + (size - 2 * r) * draw(0.0, 1.0)  # the whole shape inside the image
        cy = r + (size - 2 * r) * draw(0.0, 1.0)
        brightness = draw(0.5, 1.0)
        present = (slot < count).view(n, 1, 1)
        inside = _inside(kind, xs, ys, cx, cy, r) & present
        images = torch.where(inside, brightness, images)
        masks = torch.where(inside, kind, masks)
    images = images + noise * torch.randn(n, size, size, generator=gen)
    return images.unsqueeze(1), masks
