"""The oldest PyTorch the book supports: stated once, in requirements.txt, and honoured by the code.

Readers run the chapters with whatever PyTorch they have (Colab's, a laptop's), so the floor in
requirements.txt must be a version the code actually runs on. The table below lists torch APIs
that appeared after 2.2, with the release that introduced each; the code of ``utils``, the
chapters, the solutions and the benchmarks may only use those not newer than the floor.
"""

import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent

# An API (as it is written in code) and the first torch release that has it.
TORCH_APIS_SINCE = {
    "torch.amp.GradScaler": (2, 3),  # before: torch.cuda.amp.GradScaler, CUDA only
    "torch.get_default_device": (2, 3),
    "including_emulation": (2, 4),  # torch.cuda.is_bf16_supported(including_emulation=...)
    "nn.RMSNorm": (2, 4),
    "add_safe_globals": (2, 4),  # torch.serialization
    "torch.amp.custom_fwd": (2, 4),
    "flex_attention": (2, 5),  # torch.nn.attention.flex_attention
    "nn.Buffer": (2, 5),
    "enable_gqa": (2, 5),  # F.scaled_dot_product_attention(..., enable_gqa=)
    "torch.accelerator": (2, 6),
    "set_stance": (2, 6),  # torch.compiler.set_stance
    "get_total_norm": (2, 6),  # torch.nn.utils.get_total_norm
    "clip_grads_with_norm_": (2, 6),
}


def torch_floor():
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if match := re.match(r"torch>=(\d+)\.(\d+)", line.strip()):
            return int(match[1]), int(match[2])
    raise AssertionError("requirements.txt states no torch>=X.Y floor")


def sources():
    """(name, code) for every Python file of utils and benchmarks and every notebook's code cells."""
    python = [*ROOT.glob("utils/**/*.py"), *ROOT.glob("benchmarks/*.py"), *ROOT.glob("solutions/*.py")]
    for path in sorted(python):
        yield str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")
    for path in sorted([*ROOT.glob("chapters/*.ipynb"), *ROOT.glob("solutions/*.ipynb")]):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        code = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
        yield str(path.relative_to(ROOT)), "\n".join(code)


def without_optional_names(code):
    """The code minus ``if_present=(...)`` arguments: names there are used only where they exist."""
    return re.sub(r"if_present=\([^)]*\)", "", code)


def test_no_code_uses_a_torch_api_newer_than_the_stated_floor():
    floor = torch_floor()
    too_new = [f"{name} uses {api} (torch {'.'.join(map(str, since))})"
               for name, code in sources() for api, since in TORCH_APIS_SINCE.items()
               if since > floor and api in without_optional_names(code)]
    assert not too_new, f"requirements.txt says torch>={'.'.join(map(str, floor))}, but: {too_new}"


def test_the_floor_is_at_least_the_newest_api_the_trainer_needs():
    # The Trainer builds torch.amp.GradScaler for every device; older torch has only the CUDA one.
    assert "torch.amp.GradScaler" in (ROOT / "utils" / "train.py").read_text()
    assert torch_floor() >= TORCH_APIS_SINCE["torch.amp.GradScaler"]


def test_the_readme_states_the_same_floor():
    major, minor = torch_floor()
    assert f"PyTorch {major}.{minor} or newer" in (ROOT / "README.md").read_text()
