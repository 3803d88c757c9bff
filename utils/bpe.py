"""Byte-pair encoding (BPE), trained by hand: chapter 10 builds it, chapter 11 may use its tokens.

A tokenizer splits text into units from a fixed vocabulary. Byte-level BPE starts from the 256
byte values, so any text can be encoded and decoded exactly, and then learns *merges*: it counts
every pair of adjacent tokens in the training text, gives the most frequent pair a new id, replaces
it everywhere, and repeats. Frequent words end up as one token, rare ones as a few pieces.

Like GPT-2 we first cut the text into chunks (a word with the space before it, a number, a run of
punctuation or of white space) and never merge across a chunk boundary, so a token never spans
" the" and the next word. Training then works on the distinct chunks with their counts, and each
merge only revisits the chunks that contain the merged pair.

    merges = train_bpe(text, 500)          # [(a, b), ...]: token a followed by b becomes 256 + rank
    tokenizer = BPETokenizer(merges)
    ids = tokenizer.encode("def f(x):")    # list of ints
    tokenizer.decode(ids) == "def f(x):"   # always True
"""

import collections
import re

# A word, a number or punctuation with the space before it; runs of white space leave their last
# space to the word that follows (as GPT-2 does). Together the alternatives match every character.
CHUNK = re.compile(r" ?[A-Za-z]+| ?[0-9]+| ?[^\sA-Za-z0-9]+|\s+(?!\S)|\s+")


def chunks(text):
    """The pieces BPE merges within (a word with its leading space, digits, punctuation, spaces)."""
    return CHUNK.findall(text)


def pair_counts(words):
    """How often each adjacent pair occurs in ``words``, a dict {tuple of ids: count}."""
    counts = collections.Counter()
    for word, count in words.items():
        for pair in zip(word, word[1:]):
            counts[pair] += count
    return counts


def merge(ids, pair, new_id):
    """``ids`` with every occurrence of ``pair`` replaced by ``new_id``, scanning left to right
    (in ``a a a`` the pair ``(a, a)`` is merged once: ``X a``)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return tuple(out)


def train_bpe(text, num_merges):
    """The ``num_merges`` merges BPE learns from ``text``, in order: a list of id pairs.

    Merge ``k`` makes token ``256 + k``. The most frequent pair wins; a tie goes to the smaller
    pair (compared as tuples), so training is deterministic. Stops early if no pair occurs twice.
    """
    words = collections.Counter(tuple(chunk.encode("utf-8")) for chunk in chunks(text))
    counts = pair_counts(words)
    where = collections.defaultdict(set)  # pair -> the distinct words that contain it
    for word in words:
        for pair in zip(word, word[1:]):
            where[pair].add(word)
    merges = []
    for k in range(num_merges):
        if not counts:
            break
        best = min(counts, key=lambda pair: (-counts[pair], pair))
        if counts[best] < 2:
            break
        merges.append(best)
        for word in list(where.pop(best)):  # only the words that contain the pair change
            count = words.pop(word)
            new = merge(word, best, 256 + k)
            for pair in zip(word, word[1:]):  # take the old word's pairs out of the tallies...
                counts[pair] -= count
                if counts[pair] <= 0:
                    del counts[pair]
                where[pair].discard(word)
            words[new] += count
            for pair in zip(new, new[1:]):  # ...and put the new word's pairs in
                counts[pair] += count
                where[pair].add(new)
    return merges


class BPETokenizer:
    """Encode text to ids and back with the merges from :func:`train_bpe`."""

    def __init__(self, merges):
        self.merges = [tuple(pair) for pair in merges]
        self.rank = {pair: k for k, pair in enumerate(self.merges)}
        self.vocab = {i: bytes([i]) for i in range(256)}  # id -> the bytes it stands for
        for k, (a, b) in enumerate(self.merges):
            self.vocab[256 + k] = self.vocab[a] + self.vocab[b]
        self._cache = {}

    def __len__(self):
        return len(self.vocab)

    def _encode_chunk(self, chunk):
        ids = tuple(chunk.encode("utf-8"))
        while len(ids) > 1:  # apply the earliest-learned merge that fits, as training did
            pair = min(zip(ids, ids[1:]), key=lambda p: self.rank.get(p, len(self.rank)))
            if pair not in self.rank:
                break
            ids = merge(ids, pair, 256 + self.rank[pair])
        return ids

    def encode(self, text):
        """The token ids of ``text``."""
        out = []
        for chunk in chunks(text):
            if chunk not in self._cache:
                self._cache[chunk] = self._encode_chunk(chunk)
            out.extend(self._cache[chunk])
        return out

    def decode(self, ids):
        """The text of ``ids`` (bytes that are not valid UTF-8 become U+FFFD)."""
        return b"".join(self.vocab[i] for i in ids).decode("utf-8", errors="replace")

    def token_text(self, i):
        """What token ``i`` stands for, as text (for printing vocabularies)."""
        return self.vocab[i].decode("utf-8", errors="replace")
