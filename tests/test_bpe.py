"""The byte-pair encoder trained by hand in chapter 10 (utils/bpe.py)."""

import collections

from utils.bpe import BPETokenizer, chunks, merge, pair_counts, train_bpe

TEXT = (
    "the theme of the thesis: the other theory, then the end. " * 20
    + "def f(x):\n    return x ** 2  # 123 456\n" * 10
    + "caf\u00e9 na\u00efve \u2014 r\u00e9sum\u00e9\n"
)


def naive_bpe(text, num_merges):
    """The textbook algorithm: recount every pair from scratch before each merge."""
    words = collections.Counter(tuple(c.encode("utf-8")) for c in chunks(text))
    merges = []
    for k in range(num_merges):
        counts = pair_counts(words)
        if not counts or max(counts.values()) < 2:
            break
        best = min(counts, key=lambda p: (-counts[p], p))
        merges.append(best)
        words = collections.Counter({merge(w, best, 256 + k): c for w, c in words.items()})
    return merges


def test_chunks_cover_the_text_and_merge_is_left_to_right():
    assert "".join(chunks(TEXT)) == TEXT
    assert chunks("a  b,c") == ["a", " ", " b", ",", "c"]
    assert merge((7, 7, 7), (7, 7), 300) == (300, 7)
    assert merge((1, 2, 1, 2, 1), (1, 2), 9) == (9, 9, 1)


def test_incremental_training_equals_the_naive_algorithm():
    assert train_bpe(TEXT, 60) == naive_bpe(TEXT, 60)
    assert train_bpe("ab", 5) == []  # no pair occurs twice


def test_round_trip_and_compression():
    merges = train_bpe(TEXT, 80)
    tokenizer = BPETokenizer(merges)
    assert 20 < len(merges) <= 80 and len(tokenizer) == 256 + len(merges)
    for text in (TEXT, "unseen words: zyzzyva \u00fcber \U0001f600", ""):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    ids = tokenizer.encode(" the theory")
    assert len(ids) < len(" the theory") and tokenizer.token_text(ids[0]).startswith(" the")
