"""utils.data.make_shapes: the seeded segmentation data of chapter 9."""

import pytest
import torch

from utils.data import SHAPE_CLASSES, make_shapes
from utils.data.shapes import _inside


def test_shapes_dtypes_ranges_and_seed():
    images, masks = make_shapes(64, size=24, seed=3)
    assert images.shape == (64, 1, 24, 24) and images.dtype == torch.float32
    assert masks.shape == (64, 24, 24) and masks.dtype == torch.int64
    assert int(masks.min()) >= 0 and int(masks.max()) < len(SHAPE_CLASSES)
    again_images, again_masks = make_shapes(64, size=24, seed=3)
    assert torch.equal(images, again_images) and torch.equal(masks, again_masks)
    other_images, _ = make_shapes(64, size=24, seed=4)
    assert not torch.equal(images, other_images)


def test_every_image_has_a_shape_and_every_class_appears():
    _, masks = make_shapes(300, seed=0)
    assert bool(((masks > 0).flatten(1).sum(1) > 0).all())  # at least one shape pixel per image
    counts = torch.bincount(masks.flatten(), minlength=len(SHAPE_CLASSES))
    assert bool((counts > 0).all())
    assert 0.6 < counts[0].item() / masks.numel() < 0.95  # mostly background, not only background


def test_images_follow_the_labels_up_to_the_noise():
    images, masks = make_shapes(200, size=32, seed=1, noise=0.0)
    background, shapes = images[:, 0][masks == 0], images[:, 0][masks > 0]
    assert float(background.abs().max()) == 0.0
    assert float(shapes.min()) >= 0.5 and float(shapes.max()) <= 1.0
    noisy, _ = make_shapes(200, size=32, seed=1, noise=0.2)
    assert float((noisy - images).std()) == pytest.approx(0.2, rel=0.05)


def test_overlaps_happen_and_the_later_shape_wins():
    _, masks = make_shapes(500, size=32, seed=2, max_shapes=3)
    # some image holds two shape classes that touch (an overlap or a contact)
    right = (masks[:, :, 1:] != masks[:, :, :-1]) & (masks[:, :, 1:] > 0) & (masks[:, :, :-1] > 0)
    assert int(right.sum()) > 0


def test_geometry_of_each_class():
    coords = torch.arange(21, dtype=torch.float32) + 0.5
    ys, xs = coords.view(1, 21, 1), coords.view(1, 1, 21)
    centre, r = torch.tensor(10.5).view(1, 1, 1), torch.tensor(8.0).view(1, 1, 1)
    circle = _inside(torch.tensor(1).view(1, 1, 1), xs, ys, centre, centre, r)[0]
    square = _inside(torch.tensor(2).view(1, 1, 1), xs, ys, centre, centre, r)[0]
    triangle = _inside(torch.tensor(3).view(1, 1, 1), xs, ys, centre, centre, r)[0]
    assert int(circle.sum()) == pytest.approx(3.14159 * 64, rel=0.08)
    assert bool(square[10, :].sum() == square[:, 10].sum())  # symmetric
    rows = triangle.sum(1)
    assert rows[3] < rows[10] < rows[17]  # widens from the apex to the base
    assert bool((triangle.sum(1) > 0).sum() > 10)


@pytest.mark.parametrize(
    "kwargs",
    [dict(n=-1), dict(size=4), dict(max_shapes=0), dict(noise=-0.1), dict(min_radius=9.0, max_radius=3.0)],
)
def test_bad_arguments_raise(kwargs):
    with pytest.raises(ValueError):
        make_shapes(**({"n": 2} | kwargs))
