"""Chapter 11's LSTM opponent to the tiny GPT: a byte-level LSTM language model of the same corpus.

Everything but the network is char_gpt's: the same bytes and split, the same random 64-byte
training windows, the same optimizer and one-cycle schedule (``char_gpt.fit_byte_model``),
scored on the same consecutive 64-byte held-out windows (``char_gpt.evaluate``), each read from
a zero state, as in training. Its size matches the GPT's parameter count (806k against 834k),
so the comparison is between architectures, not sizes. An LSTM step costs less CPU time than
a GPT step (about 0.7 of one, measured on one thread), so it runs more steps, 4,300 against
3,000, for about the same CPU seconds (the manifest records what each took). Its gradients
are clipped, as recurrent networks usually need.
"""

from torch import nn

from utils.env import seed_everything
from utils.models.char_gpt import VOCAB, evaluate, fit_byte_model

BOOK = {
    "seed": 0,
    "context": 64,  # bytes per training and test window
    "embedding": 64,
    "hidden": 384,
    "layers": 1,
    "steps": 4300,
    "batch_size": 32,
    "max_lr": 3e-3,
    "weight_decay": 0.1,
    "grad_clip": 1.0,
    "curve_points": 14,  # held-out losses measured during training, the last one at the end
}
LIVE = {**BOOK, "steps": 300, "curve_points": 0}

METRIC = "test_loss"  # mean cross-entropy per byte on the held-out text, nats; lower is better
TOLERANCE = 0.005  # the test windows are fixed, so only float rounding moves it

__all__ = ["BOOK", "LIVE", "METRIC", "TOLERANCE", "CharLSTM", "build_model", "evaluate", "train"]


class CharLSTM(nn.Module):
    """Byte ids [N, T] -> next-byte logits [N, T, 256]; each window starts from a zero state."""

    def __init__(self, context=64, embedding=64, hidden=384, layers=1):
        super().__init__()
        self.context = context  # the window length it trains and is evaluated on
        self.embed = nn.Embedding(VOCAB, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.head = nn.Linear(hidden, VOCAB)

    def forward(self, ids):
        return self.head(self.lstm(self.embed(ids))[0])


def build_model(settings):
    """A freshly initialised model of the size ``settings`` asks for."""
    return CharLSTM(settings["context"], settings["embedding"], settings["hidden"], settings["layers"])


def train(settings, max_steps=None, progress=True):
    """Train by the recipe; return ``(model, losses, measured)``, as ``char_gpt.train`` does."""
    seed_everything(settings["seed"])
    return fit_byte_model(build_model(settings), settings, max_steps, progress)
