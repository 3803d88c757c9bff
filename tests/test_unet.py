"""utils.unet: the U-Net skeleton with plain blocks (chapter 9) and with conditioned ones (chapter 14)."""

import pathlib

import torch
from safetensors import safe_open
from torch import nn

from utils.models.ddpm import BOOK, build_model
from utils.unet import UNetSkeleton

MODELS_DIR = pathlib.Path(__file__).resolve().parents[1] / "models"


def plain_block(c_in, c_out):
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU())


class PlainUNet(UNetSkeleton):
    def __init__(self, widths, skips=True):
        super().__init__()
        self.build_levels(1, widths, plain_block, downsample=lambda c: nn.MaxPool2d(2),
                          upsample=lambda c_in, c_out: nn.ConvTranspose2d(c_in, c_out, 2, stride=2),
                          skips=skips)

    def forward(self, x):
        return self.run_levels(x)


def test_skeleton_returns_the_first_width_at_the_input_resolution():
    x = torch.randn(2, 1, 16, 16)
    for widths in [(4,), (4, 8), (4, 8, 16)]:
        assert PlainUNet(widths)(x).shape == (2, widths[0], 16, 16)


def test_decoder_blocks_read_the_skip_channels_only_with_skips():
    with_skips, without = PlainUNet((4, 8, 16)), PlainUNet((4, 8, 16), skips=False)
    # decoder from the bottom: its own channels, plus the encoder's of the same level with skips
    assert [b[0].in_channels for b in with_skips.up] == [16 + 16, 8 + 8, 4 + 4]
    assert [b[0].in_channels for b in without.up] == [16, 8, 4]
    assert [b[0].in_channels for b in with_skips.down] == [1, 4, 8]
    assert len(with_skips.downsample) == len(with_skips.upsample) == 2


def test_only_the_skips_carry_the_input_past_a_silenced_bottom():
    x = torch.randn(1, 1, 8, 8)
    nudged = x.clone()
    nudged[..., 0, 0] += 1.0
    for skips in (True, False):
        torch.manual_seed(0)
        net = PlainUNet((4, 8), skips=skips).eval()
        with torch.no_grad():
            net.middle[0][0].weight.zero_()  # the bottom block now outputs zeros whatever comes in
            net.middle[0][0].bias.zero_()
            assert torch.equal(net(x), net(nudged)) != skips


def test_every_block_receives_the_conditioning():
    seen = []

    class Recording(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, 1)

        def forward(self, x, cond):
            seen.append(cond)
            return self.conv(x)

    class Conditioned(UNetSkeleton):
        def __init__(self):
            super().__init__()
            self.build_levels(1, (2, 4), Recording, downsample=lambda c: nn.AvgPool2d(2),
                              upsample=lambda c_in, c_out: nn.ConvTranspose2d(c_in, c_out, 2, stride=2),
                              middle=2)

    cond = torch.ones(1, 3)
    Conditioned().run_levels(torch.randn(1, 1, 4, 4), cond)
    assert len(seen) == 2 + 2 + 2 and all(c is cond for c in seen)  # down, middle, up


def test_book_ddpm_keeps_the_parameter_names_of_its_shipped_weights():
    """The diffusion U-Net is built on the skeleton; the shipped book model must still load by name."""
    with safe_open(str(MODELS_DIR / "ddpm.safetensors"), framework="pt") as f:
        shipped = {name: tuple(f.get_slice(name).get_shape()) for name in f.keys()}
    built = {name: tuple(t.shape) for name, t in build_model(BOOK).state_dict().items()}
    assert built == shipped
