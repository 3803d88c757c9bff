"""utils.diffusion and utils.unet: schedules, noising, samplers and the U-Net, against their definitions."""

import math

import pytest
import torch
from torch import nn

from utils import diffusion
from utils.unet import UNet


class Oracle(nn.Module):
    """Knows the clean images, so predicts the exact noise: every sampler must land on them."""

    num_classes = 10

    def __init__(self, x0, alpha_bar):
        super().__init__()
        self.x0, self.alpha_bar = x0, alpha_bar
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x, t, labels):
        a = self.alpha_bar[t].view(-1, 1, 1, 1).to(x.dtype)
        return (x - a.sqrt() * self.x0) / (1 - a).sqrt()


def test_schedules_follow_their_formulas():
    linear = diffusion.linear_betas(1000)
    assert linear[0] == pytest.approx(1e-4) and linear[-1] == pytest.approx(0.02)
    assert linear.dtype == torch.float64
    ab = diffusion.alpha_bars(diffusion.cosine_betas(1000))
    t = torch.arange(1, 1001, dtype=torch.float64) / 1000
    f = torch.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    assert torch.allclose(ab[:-1], f[:-1], rtol=1e-9)  # the last beta is capped at 0.999
    assert ab[-1] < 1e-8 and torch.all(ab[1:] < ab[:-1])
    with pytest.raises(ValueError, match="unknown schedule"):
        diffusion.make_betas("quadratic")


def test_add_noise_is_the_closed_form_per_image():
    ab = diffusion.alpha_bars(diffusion.linear_betas(1000))
    gen = torch.Generator().manual_seed(0)
    x0, noise = torch.randn(3, 1, 4, 4, generator=gen), torch.randn(3, 1, 4, 4, generator=gen)
    t = torch.tensor([0, 500, 999])
    x_t = diffusion.add_noise(x0, t, noise, ab)
    for i in range(3):
        a = float(ab[t[i]])
        # float32 against Python floats: rounding of terms up to ~4 in size, far below any wrong formula
        assert torch.allclose(x_t[i], math.sqrt(a) * x0[i] + math.sqrt(1 - a) * noise[i], atol=1e-5)


def test_sampling_steps_run_from_the_last_to_the_first():
    assert diffusion.sampling_steps(1000, 1000) == list(range(999, -1, -1))
    few = diffusion.sampling_steps(1000, 10)
    assert few[0] == 999 and few[-1] == 0 and len(set(few)) == 10 and few == sorted(few, reverse=True)
    with pytest.raises(ValueError):
        diffusion.sampling_steps(10, 11)


@pytest.mark.parametrize("eta, steps", [(0.0, 3), (0.0, 7), (1.0, 7), (1.0, 50)])
def test_samplers_with_an_exact_noise_predictor_return_the_data(eta, steps):
    ab = diffusion.alpha_bars(diffusion.cosine_betas(50))
    x0 = torch.rand(4, 1, 28, 28) * 1.8 - 0.9
    out = diffusion.sample(Oracle(x0, ab), torch.zeros(4, dtype=torch.long), ab, steps, eta=eta,
                           generator=torch.Generator().manual_seed(0))
    assert torch.allclose(out, x0, atol=1e-4)


def test_ddpm_update_is_the_posterior_of_ho_et_al():
    """One eta=1 step from t to t-1 is the mean and variance of q(x_{t-1} | x_t, x0_hat)."""
    ab = diffusion.alpha_bars(diffusion.linear_betas(4))
    betas = diffusion.linear_betas(4)

    class Constant(nn.Module):
        num_classes = 10

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x, t, labels):
            return torch.full_like(x, 0.1)

    frames = []
    generator = torch.Generator().manual_seed(3)
    diffusion.sample(Constant(), torch.zeros(2, dtype=torch.long), ab, 4, eta=1.0, generator=generator,
                     shape=(1, 2, 2), clip=False, frames=frames)
    generator = torch.Generator().manual_seed(3)
    x = torch.randn(2, 1, 2, 2, generator=generator).double()
    t = 3
    x0 = (x - (1 - ab[t]).sqrt() * 0.1) / ab[t].sqrt()
    mean = (ab[t - 1].sqrt() * betas[t] / (1 - ab[t]) * x0
            + (1 - betas[t]).sqrt() * (1 - ab[t - 1]) / (1 - ab[t]) * x)
    std = ((1 - ab[t - 1]) / (1 - ab[t]) * betas[t]).sqrt()
    expected = mean + std * torch.randn(2, 1, 2, 2, generator=generator).double()
    assert len(frames) == 4
    assert torch.allclose(frames[0].double(), expected, atol=1e-5)


def test_guidance_combines_conditional_and_unconditional_predictions():
    class ByLabel(nn.Module):
        num_classes = 10

        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.zeros(1))

        def forward(self, x, t, labels):
            return labels.view(-1, 1, 1, 1).float() * torch.ones_like(x)

    x, labels = torch.zeros(2, 1, 2, 2), torch.tensor([3, 4])
    assert torch.all(diffusion.guided_noise(ByLabel(), x, 5, labels, 0.0) == labels.view(-1, 1, 1, 1))
    guided = diffusion.guided_noise(ByLabel(), x, 5, labels, 2.0)
    assert torch.allclose(guided, (3 * labels - 2 * 10).view(-1, 1, 1, 1).float().expand_as(x))


def test_unet_keeps_the_image_shape_and_reads_time_and_class():
    torch.manual_seed(0)
    net = UNet(1, (8, 16, 16), cond_dim=32, num_classes=10).eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        out = net(x, torch.tensor([5, 5]), torch.tensor([1, 1]))
        assert out.shape == x.shape
        assert not torch.allclose(out, net(x, torch.tensor([900, 900]), torch.tensor([1, 1])))
        assert not torch.allclose(out, net(x, torch.tensor([5, 5]), torch.tensor([2, 2])))
        no_class = net(x, torch.tensor([5, 5]))  # no labels: the "no class" index
        assert torch.allclose(no_class, net(x, torch.tensor([5, 5]), torch.tensor([10, 10])))
    unconditional = UNet(1, (8, 16, 16), cond_dim=32)
    assert unconditional(x, torch.tensor([1, 2])).shape == x.shape
