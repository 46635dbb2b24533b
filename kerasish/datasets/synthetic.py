"""Small synthetic tasks for demos and tests: generated in memory, deterministic under ``seed``.

- `spirals`: 2-D points on interleaved spiral arms (non-linear classification).
- `sequences`: padded integer sequences whose label depends on token *order* (needs an RNN, not a bag of words).
- `translation_pairs`: date-format translation, ``"2024-03-05"`` -> ``"05 March 2024"``, as character ids
  with start/end tokens (sequence-to-sequence demos).

Each returns ``(x_train, y_train), (x_test, y_test)`` like the other loaders (`translation_pairs` adds its
vocabulary).
"""

from __future__ import annotations

import datetime

import numpy as np

from kerasish.datasets._offline import check_split, split
from kerasish.errors import ConfigError

PAD, START, END = "<pad>", "<start>", "<end>"
MONTHS = (
    "January February March April May June July August September October November December"
).split()
# Fixed, not derived from the samples, so every call (any seed, any size) shares one vocabulary.
DATE_VOCAB = (PAD, START, END) + tuple(sorted(set("0123456789- " + "".join(MONTHS))))
SOURCE_LENGTH = len("2024-03-05")
TARGET_LENGTH = len("05 September 2024") + 2  # plus <start> and <end>


def _positive_int(fn: str, name: str, value, minimum: int = 1) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"synthetic.{fn}: {name} must be an int >= {minimum}, got {value!r}.")


def spirals(n_samples: int = 1000, n_classes: int = 2, noise: float = 0.2, seed: int = 0, test_split: float = 0.2):
    """Points on `n_classes` interleaved spiral arms, two turns each.

    Args:
        n_samples: total number of points (split as evenly as possible between classes).
        n_classes: number of arms (classes), >= 2.
        noise: standard deviation of the jitter added to each point's angle (radians).
        seed: seed of the points and of the shuffle before the split.
        test_split: fraction of the points put in the test set, in `[0, 1)`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` float32 `(n, 2)` within about [-1, 1], `y` int32 `(n,)`.
    """
    _positive_int("spirals", "n_samples", n_samples)
    _positive_int("spirals", "n_classes", n_classes, 2)
    if not noise >= 0:
        raise ConfigError(f"synthetic.spirals: noise must be >= 0, got {noise!r}.")
    check_split("synthetic.spirals", test_split)
    rng = np.random.default_rng(seed)
    labels = np.arange(n_samples) % n_classes
    radius = rng.uniform(0.05, 1.0, n_samples)
    angle = 2 * np.pi * labels / n_classes + 4 * np.pi * radius + rng.normal(0.0, noise, n_samples)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1).astype(np.float32)
    return split(x, labels.astype(np.int32), test_split, seed)


def sequences(
    n_samples: int = 2000,
    max_length: int = 20,
    min_length: int = 5,
    vocab_size: int = 20,
    padding: str = "post",
    seed: int = 0,
    test_split: float = 0.2,
):
    """Integer sequences holding one token 1 and one token 2 among random fillers; label 1 iff 1 comes first.

    Both classes have the same token counts, so only the order tells them apart. Token 0 is padding
    (use `Embedding(vocab_size, ..., mask_zero=True)`); fillers are 3..vocab_size-1.

    Args:
        n_samples: number of sequences.
        max_length: padded length; sequence lengths are uniform in `[min_length, max_length]`.
        min_length: shortest sequence, >= 2.
        vocab_size: number of token ids including 0, 1, 2; >= 4.
        padding: `"post"` (zeros after the tokens) or `"pre"` (zeros before).
        seed: seed of the sequences and of the shuffle before the split.
        test_split: fraction of the sequences put in the test set, in `[0, 1)`.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: `x` int32 `(n, max_length)`, `y` int32 `(n,)` of 0/1.
    """
    _positive_int("sequences", "n_samples", n_samples)
    _positive_int("sequences", "min_length", min_length, 2)
    _positive_int("sequences", "max_length", max_length, min_length)
    _positive_int("sequences", "vocab_size", vocab_size, 4)
    if padding not in ("post", "pre"):
        raise ConfigError(f'synthetic.sequences: padding must be "post" or "pre", got {padding!r}.')
    check_split("synthetic.sequences", test_split)
    rng = np.random.default_rng(seed)
    x = np.zeros((n_samples, max_length), np.int32)
    y = np.zeros(n_samples, np.int32)
    lengths = rng.integers(min_length, max_length + 1, n_samples)
    for i, length in enumerate(lengths):
        tokens = rng.integers(3, vocab_size, length)
        first, second = rng.choice(length, 2, replace=False)
        tokens[first], tokens[second] = 1, 2
        y[i] = int(first < second)
        if padding == "post":
            x[i, :length] = tokens
        else:
            x[i, max_length - length :] = tokens
    return split(x, y, test_split, seed)


def encode(text: str, vocab: tuple[str, ...] = DATE_VOCAB) -> list[int]:
    """The ids of the characters of `text` in `vocab`."""
    index = {token: i for i, token in enumerate(vocab)}
    try:
        return [index[c] for c in text]
    except KeyError as exc:
        raise ConfigError(f"synthetic.encode: character {exc.args[0]!r} of {text!r} is not in the vocabulary.") from None


def decode(ids, vocab: tuple[str, ...] = DATE_VOCAB) -> str:
    """The text of a row of ids: stops at `<end>`, skips `<pad>` and `<start>`."""
    out = []
    for i in np.asarray(ids).tolist():
        token = vocab[i]
        if token == END:
            break
        if token not in (PAD, START):
            out.append(token)
    return "".join(out)


def translation_pairs(
    n_samples: int = 2000,
    seed: int = 0,
    test_split: float = 0.2,
    first_year: int = 1950,
    last_year: int = 2049,
):
    """A toy translation task: ISO dates `"2024-03-05"` to spelled-out dates `"05 March 2024"`, as char ids.

    Dates are distinct (drawn without replacement), so no pair is in both train and test.

    Args:
        n_samples: number of pairs, at most the number of days in the year range.
        seed: seed of the dates and of the shuffle before the split.
        test_split: fraction of the pairs put in the test set, in `[0, 1)`.
        first_year: first year dates are drawn from.
        last_year: last year dates are drawn from (inclusive).

    Returns:
        `(x_train, y_train), (x_test, y_test), vocab`: `x` int32 `(n, 10)` source characters; `y` int32
        `(n, 19)`: `<start>`, target characters, `<end>`, then `<pad>` (0). Feed `y[:, :-1]` to a decoder
        and train it to predict `y[:, 1:]`. `vocab` is the tuple of tokens (`vocab[id]`); use `decode`.
    """
    _positive_int("translation_pairs", "n_samples", n_samples)
    check_split("synthetic.translation_pairs", test_split)
    if not (1 <= first_year <= last_year <= 9999):
        raise ConfigError(
            f"synthetic.translation_pairs: need 1 <= first_year <= last_year <= 9999, got {first_year}, {last_year}."
        )
    start = datetime.date(first_year, 1, 1).toordinal()
    n_days = datetime.date(last_year, 12, 31).toordinal() - start + 1
    if n_samples > n_days:
        raise ConfigError(f"synthetic.translation_pairs: n_samples={n_samples} exceeds the {n_days} distinct dates.")
    rng = np.random.default_rng(seed)
    x = np.zeros((n_samples, SOURCE_LENGTH), np.int32)
    y = np.zeros((n_samples, TARGET_LENGTH), np.int32)
    start_id, end_id = DATE_VOCAB.index(START), DATE_VOCAB.index(END)
    for i, offset in enumerate(rng.choice(n_days, n_samples, replace=False)):
        date = datetime.date.fromordinal(start + int(offset))
        x[i] = encode(date.isoformat())
        target = [start_id] + encode(f"{date.day:02d} {MONTHS[date.month - 1]} {date.year:04d}") + [end_id]
        y[i, : len(target)] = target
    return (*split(x, y, test_split, seed), DATE_VOCAB)
