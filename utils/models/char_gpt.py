"""The chapter 11 tiny GPT: a byte-level language model of the book's text corpus.

A decoder-only transformer (pre-norm blocks of causal self-attention and an MLP, learned
position embeddings, the output layer tied to the token embedding) reads UTF-8 bytes,
so its vocabulary is the 256 byte values and no tokenizer is needed: for the mostly ASCII
corpus a byte is a character. The corpus is ``load_text_corpus()`` (the Python Language
Reference that ships with every Python); its first 90% trains, the last 10% tests.

Training also records a held-out learning curve: the test loss at a few steps spaced
geometrically up to the last, against the CPU seconds spent training so far. The char_lstm
recipe records the same curve, so chapter 11 can compare the two per second of compute.
"""

import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from utils.data import load_text_corpus
from utils.env import seed_everything
from utils.models.short_runs import FirstBatches
from utils.train import Trainer

VOCAB = 256  # byte values
TEST_SHARE = 0.1  # the end of the corpus, held out

BOOK = {
    "seed": 0,
    "context": 64,  # bytes the model sees at once
    "width": 128,
    "layers": 4,
    "heads": 4,
    "steps": 3000,
    "batch_size": 32,
    "max_lr": 3e-3,
    "weight_decay": 0.1,
    "curve_points": 14,  # held-out losses measured during training, the last one at the end
}
LIVE = {**BOOK, "steps": 300, "curve_points": 0}

METRIC = "test_loss"  # mean cross-entropy per byte on the held-out text, nats; lower is better
TOLERANCE = 0.005  # the test windows are fixed, so only float rounding moves it


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x):
        batch, length, width = x.shape
        per_head = self.qkv(x).view(batch, length, 3, self.heads, width // self.heads)
        q, k, v = per_head.transpose(1, 3).unbind(2)  # each [batch, heads, length, width / heads]
        # Each head: softmax(q k^T / sqrt(d)) v, with every position blind to the ones after it.
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(y.transpose(1, 2).reshape(batch, length, width))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.norm1, self.attention = nn.LayerNorm(width), CausalSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x):
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharGPT(nn.Module):
    """Byte ids [N, T] (T <= context) -> next-byte logits [N, T, 256]."""

    def __init__(self, context=64, width=96, layers=3, heads=4):
        super().__init__()
        self.context = context
        self.token = nn.Embedding(VOCAB, width)
        self.position = nn.Embedding(context, width)
        self.blocks = nn.Sequential(*[Block(width, heads) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.apply(_init)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.blocks(self.token(ids) + self.position(positions)))
        return x @ self.token.weight.T  # the output layer shares the embedding's weights


def _init(module):
    if isinstance(module, (nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, std=0.02)
    if isinstance(module, nn.Linear) and module.bias is not None:
        nn.init.zeros_(module.bias)


def corpus_bytes():
    """``(train, test)``: the corpus as uint8 byte tensors, split at 90%."""
    data = torch.frombuffer(bytearray(load_text_corpus().encode("utf-8")), dtype=torch.uint8)
    split = int(len(data) * (1 - TEST_SHARE))
    return data[:split], data[split:]


class RandomWindows:
    """``steps`` batches of (input, target) windows at random places in ``data``, targets shifted by one."""

    def __init__(self, data, context, batch_size, steps, seed):
        self.data, self.context, self.batch_size, self.steps = data.long(), context, batch_size, steps
        self.generator = torch.Generator().manual_seed(seed)

    def __len__(self):
        return self.steps

    def __iter__(self):
        offsets = torch.arange(self.context + 1)
        for _ in range(self.steps):
            starts = torch.randint(len(self.data) - self.context, (self.batch_size, 1),
                                   generator=self.generator)
            windows = self.data[starts + offsets]
            yield windows[:, :-1], windows[:, 1:]


def next_byte_loss(logits, targets):
    return F.cross_entropy(logits.reshape(-1, VOCAB), targets.reshape(-1))


def build_model(settings):
    """A freshly initialised model of the size ``settings`` asks for."""
    return CharGPT(settings["context"], settings["width"], settings["layers"], settings["heads"])


def curve_steps(total, points, first_share=1 / 64):
    """``points`` step counts, spaced geometrically from ``first_share * total`` to ``total``."""
    if points < 2:
        return [total] * points
    return sorted({round(total * first_share ** (1 - i / (points - 1))) for i in range(points)})


class HeldOutCurve:
    """``batches`` passed through, with ``evaluate(model)["test_loss"]`` measured after the steps ``at``.

    A trainer asks for batch k + 1 only after its k-th optimizer step, so the measurement then
    sees the weights after exactly k steps. ``cpu_s`` is this process's CPU time spent training
    up to that step (``time.process_time``), without the time of the measurements themselves.
    The evaluation uses no random numbers and puts the model back in training mode, so the run
    is the same as without the curve.
    """

    def __init__(self, batches, model, at, evaluate):
        self.batches, self.model, self.at, self.evaluate = batches, model, set(at), evaluate
        self.steps, self.cpu_s, self.test_loss = [], [], []

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        trained, started, step = 0.0, time.process_time(), 0
        for step, batch in enumerate(self.batches):
            if step in self.at:
                trained += time.process_time() - started
                self._measure(step, trained)
                started = time.process_time()
            yield batch
        step += 1  # the trainer asks for one more batch only after the last step
        if step in self.at:
            self._measure(step, trained + time.process_time() - started)

    def _measure(self, step, cpu_s):
        self.steps.append(step)
        self.cpu_s.append(round(cpu_s, 2))
        self.test_loss.append(self.evaluate(self.model)["test_loss"])
        self.model.train()

    def record(self):
        """The curve, for the manifest."""
        return {"steps": self.steps, "cpu_s": self.cpu_s, "test_loss": self.test_loss,
                "measured_on": "all the held-out text, as the metric test_loss",
                "cpu_s_counts": "training only (time.process_time), not the curve's evaluations"}


def train(settings, max_steps=None, progress=True):
    """Train by the recipe; return ``(model, losses, measured)``: see ``fit_byte_model``."""
    seed_everything(settings["seed"])
    return fit_byte_model(build_model(settings), settings, max_steps, progress)


def fit_byte_model(model, settings, max_steps=None, progress=True):
    """Train ``model`` on the training bytes; return ``(model, losses, measured)``.

    ``losses`` is the loss of every step, ``measured`` holds the held-out curve
    (``HeldOutCurve.record``). AdamW with decay on the weight matrices only, and a one-cycle
    learning rate. The char_lstm recipe trains its LSTM with this same function.
    """
    train_bytes, _ = corpus_bytes()
    decayed = [p for p in model.parameters() if p.dim() >= 2]
    others = [p for p in model.parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": settings["weight_decay"]},
                                   {"params": others, "weight_decay": 0.0}], lr=settings["max_lr"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings["max_lr"],
                                                   total_steps=settings["steps"])
    batches = RandomWindows(train_bytes, settings["context"], settings["batch_size"], settings["steps"],
                            settings["seed"])
    curve = HeldOutCurve(batches, model, curve_steps(settings["steps"], settings["curve_points"]), evaluate)
    losses = []

    def loss_fn(logits, targets):
        loss = next_byte_loss(logits, targets)
        if model.training:
            losses.append(loss.item())
        return loss

    trainer = Trainer(model, optimizer, loss_fn, device="cpu", scheduler=schedule,
                      grad_clip=settings.get("grad_clip"), progress=progress)
    trainer.fit(curve if max_steps is None else FirstBatches(curve, max_steps), epochs=1)
    return model.eval(), losses, {"held_out_curve": curve.record()}


@torch.no_grad()
def evaluate(model):
    """Mean next-byte cross-entropy on the held-out text, cut into consecutive windows, in nats.

    The windows are ``model.context`` bytes long; any byte model with that attribute fits.
    """
    _, test_bytes = corpus_bytes()
    model.eval()
    device = next(model.parameters()).device
    context = model.context
    count = (len(test_bytes) - 1) // context
    inputs = test_bytes[:count * context].long().view(count, context)
    targets = test_bytes[1:count * context + 1].long().view(count, context)
    total = 0.0
    for x, y in zip(inputs.split(256), targets.split(256)):
        total += next_byte_loss(model(x.to(device)), y.to(device)).item() * y.numel()
    loss = total / targets.numel()
    return {"test_loss": loss, "test_bits_per_byte": loss / math.log(2)}


@torch.no_grad()
def generate(model, prompt, length, temperature=1.0, generator=None):
    """``prompt`` (a str) continued by ``length`` sampled bytes, decoded back to text."""
    model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([list(prompt.encode("utf-8"))], device=device)
    for _ in range(length):
        logits = model(ids[:, -model.context:])[:, -1] / temperature
        next_id = torch.multinomial(logits.softmax(-1).cpu(), 1, generator=generator).to(device)
        ids = torch.cat([ids, next_id], dim=1)
    return bytes(ids[0].tolist()).decode("utf-8", errors="replace")
