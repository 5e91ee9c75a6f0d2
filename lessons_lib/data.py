"""Datasets for the lessons: small ones that always work offline, real ones when they can be had.

Offline (always): `toy_regression`, `diabetes`, `digits`, `purchase`, `sentiment`.
Online with an offline fallback: `cifar10` (falls back to `digits`) and `imdb`
(falls back to `sentiment`); each prints one line saying what it used and why.
Every loader is seeded: the same arguments give the same arrays.

Split loaders return a `Split`, which unpacks as `x_train, y_train, x_test, y_test`.
Importing this module never imports torch or TensorFlow; `torch_loader`,
`tf_dataset` and the online loaders import them when called.
"""
import csv
import io
import os
import re
import socket
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

# The repository's data/ folder. A pip-installed lessons_lib (Colab) has none, so the
# synthetic sets are then regenerated in memory: same generator, identical bytes.
DATA_DIR = Path(__file__).resolve().parents[1] / "data"

PURCHASE_SEED = 8
SENTIMENT_SEED = 12
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck")
PAD, UNK = "<pad>", "<unk>"
_NETWORK_TIMEOUT_S = 20  # per socket operation: a blocked network must not hang a lesson


@dataclass(frozen=True, repr=False, eq=False)  # arrays have no single truth value
class Split:
    """A train/test split; unpacks as `x_train, y_train, x_test, y_test`.

    `source` says what was loaded; `feature_names`, `classes`, `vocabulary`
    (index -> word) and `vocab_size` are filled where they mean something.
    """
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str = ""
    feature_names: tuple = ()
    classes: tuple = ()
    vocabulary: list | None = None
    vocab_size: int | None = None

    def __iter__(self):
        return iter((self.x_train, self.y_train, self.x_test, self.y_test))

    def __repr__(self):
        shapes = ", ".join(f"{name}={getattr(self, name).shape} {getattr(self, name).dtype}"
                           for name in ("x_train", "y_train", "x_test", "y_test"))
        return f"Split({self.source!r}: {shapes})"


# ---------------------------------------------------------------- validation

def _check_positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}")


def _check_choice(name, value, choices):
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _check_same_length(X, y):
    if len(X) != len(y):
        raise ValueError(f"X and y must have the same length; got len(X)={len(X)} and len(y)={len(y)}")


def _split(X, y, test_size, seed, stratify):
    from sklearn.model_selection import train_test_split
    return train_test_split(X, y, test_size=test_size, random_state=seed,
                            stratify=y if stratify else None)


def _standardize(train, test):
    """Scale with the TRAINING set's mean and std only, so no test information leaks in."""
    from sklearn.preprocessing import StandardScaler
    scaler = StandardScaler().fit(train)
    return scaler.transform(train), scaler.transform(test)


# ---------------------------------------------------------------- small offline sets

def toy_regression(dtype=np.float32):
    """The course's seed example: x = 1, 2, 3, 4 and y = 2x.

    Returns `(x, y)`, both of shape (4, 1) (what `nn.Linear(1, 1)` and
    `keras.layers.Dense(1)` expect); use `.ravel()` for 1-D arrays.
    """
    x = np.arange(1, 5, dtype=dtype).reshape(4, 1)
    return x, 2 * x


def diabetes(*, test_size=0.2, seed=0, dtype=np.float64, standardize_target=True):
    """scikit-learn's bundled diabetes regression set (442 patients, 10 features), split.

    Features (and, with `standardize_target`, the disease-progression target) are
    standardised with the training set's mean and std only. x: (n, 10), y: (n,),
    both `dtype`; with the default test_size 353 train / 89 test rows.
    """
    from sklearn.datasets import load_diabetes
    bunch = load_diabetes(scaled=False)
    x_tr, x_te, y_tr, y_te = _split(bunch.data, bunch.target, test_size, seed, stratify=False)
    x_tr, x_te = _standardize(x_tr, x_te)
    if standardize_target:
        y_tr, y_te = (v.ravel() for v in _standardize(y_tr[:, None], y_te[:, None]))
    return Split(x_tr.astype(dtype), y_tr.astype(dtype), x_te.astype(dtype), y_te.astype(dtype),
                 source="diabetes (scikit-learn)", feature_names=tuple(bunch.feature_names))


def _image_layout(x_nchw, layout):
    """(N, C, H, W) for torch, (N, H, W, C) for Keras."""
    _check_choice("layout", layout, ("torch", "keras"))
    return x_nchw if layout == "torch" else np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))


def digits(*, layout="torch", test_size=0.2, seed=0, dtype=np.float32):
    """scikit-learn's bundled handwritten digits: 1797 grey 8x8 images of 0-9, split (stratified).

    x: (n, 1, 8, 8) for layout="torch" or (n, 8, 8, 1) for layout="keras",
    scaled to [0, 1], `dtype`; y: (n,) int64. Default: 1437 train / 360 test.
    """
    from sklearn.datasets import load_digits
    bunch = load_digits()
    images = (bunch.images / 16.0)[:, None, :, :]  # pixel values are 0..16
    x_tr, x_te, y_tr, y_te = _split(images, bunch.target.astype(np.int64), test_size, seed, stratify=True)
    return Split(_image_layout(x_tr.astype(dtype), layout), y_tr,
                 _image_layout(x_te.astype(dtype), layout), y_te,
                 source="digits (scikit-learn)", classes=tuple(str(d) for d in range(10)))


# ---------------------------------------------------------------- synthetic sets (data/)

def _csv_text(header, rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")  # "\n" on every OS: same bytes everywhere
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _shipped_or_generated(name, path, make):
    """(text, where) of data/<name> (or of `path`), or regenerated in memory when lessons_lib
    has no data/ folder; `where` names the file in error messages."""
    file = Path(path) if path is not None else DATA_DIR / name
    if path is None and not file.exists():
        return make(), f"{name} (regenerated in memory)"
    try:
        return file.read_bytes().decode("utf-8"), str(file)
    except UnicodeDecodeError as error:
        raise ValueError(f"{file} is not a UTF-8 text (CSV) file: byte {error.start} is "
                         f"{error.object[error.start:error.start + 1]!r}") from None


def _read_csv(name, path, make, columns):
    """The named `columns` of a CSV, found by its header (in any order, other columns ignored).

    Returns (where, lines, cells): the file's name, the line number of each data row
    and {column: [text of each row]}. An empty file, a header without one of
    `columns` (or with one twice) and a row whose field count differs from the
    header's each raise a ValueError naming the file, and the line where there is one.
    """
    text, where = _shipped_or_generated(name, path, make)
    expected = ",".join(columns)
    reader = csv.reader(io.StringIO(text))
    try:
        header = [field.strip() for field in next((row for row in reader if row), [])]
        if not header:
            raise ValueError(f"{where} is empty; expected a header line {expected!r} and then rows")
        for column in columns:
            if header.count(column) != 1:
                problem = "lacks" if column not in header else "repeats"
                raise ValueError(f"{where}: the header {','.join(header)!r} {problem} the column "
                                 f"{column!r}; expected the columns {expected} (in any order)")
        lines, rows = [], []
        for row in reader:
            if not row:  # a blank line
                continue
            if len(row) != len(header):
                raise ValueError(f"{where}, line {reader.line_num}: {len(row)} fields, but the "
                                 f"header {','.join(header)!r} has {len(header)}")
            lines.append(reader.line_num)
            rows.append(row)
    except csv.Error as error:
        raise ValueError(f"{where}, line {reader.line_num}: not a valid CSV line ({error})") from None
    if not rows:
        raise ValueError(f"{where} has a header but no rows")
    return where, lines, {column: [row[header.index(column)].strip() for row in rows]
                          for column in columns}


def _numbers(where, lines, column, cells):
    """A column as float64; a cell that is not a finite number raises naming file, line and value."""
    values = np.empty(len(cells))
    for i, cell in enumerate(cells):
        try:
            values[i] = float(cell)
        except ValueError:
            values[i] = np.nan
        if not np.isfinite(values[i]):
            raise ValueError(f"{where}, line {lines[i]}: {column}={cell!r} is not a finite number")
    return values


def _binary_labels(where, lines, column, cells):
    """A 0/1 label column as int64; any other value ('7', '0.5', 'yes') raises naming it."""
    for line, cell in zip(lines, cells):
        if cell not in ("0", "1"):
            raise ValueError(f"{where}, line {line}: {column}={cell!r} is not a label; "
                             "valid: 0 or 1")
    return np.array([cell == "1" for cell in cells], dtype=np.int64)


def make_purchase_csv(n=1000, seed=PURCHASE_SEED):
    """Text of data/purchase.csv: a synthetic "who buys" set drawn from a stated logistic model.

        age       ~ uniform integer 18..70 (years)
        education ~ 0 school, 1 bachelor, 2 master, 3 doctorate, probabilities .35 .35 .20 .10
        income    = max(8, 20 + 0.8 (age - 18) + 12 education + e),  e ~ N(0, 12^2)   (k$/year)
        P(bought) = sigmoid(-9 + 0.05 age + 0.1 income + 0.4 education)
        bought    = 1 if u < P(bought) else 0,  u ~ Uniform(0, 1)

    Drawn in that order from `numpy.random.default_rng(seed)`; income is written
    with one decimal. Columns: age,income,education,bought.
    """
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 71, size=n)
    education = rng.choice(4, size=n, p=[0.35, 0.35, 0.20, 0.10])
    income = np.maximum(8.0, 20 + 0.8 * (age - 18) + 12 * education + rng.normal(0, 12, size=n))
    p_bought = 1 / (1 + np.exp(-(-9 + 0.05 * age + 0.1 * income + 0.4 * education)))
    bought = (rng.random(n) < p_bought).astype(int)
    rows = zip(age, (f"{v:.1f}" for v in income), education, bought)
    return _csv_text(("age", "income", "education", "bought"), rows)


PURCHASE_FEATURES = ("age", "income", "education")


def purchase_table(path=None):
    """The whole purchase set, unscaled: X (1000, 3) float64 = [age, income, education], y (1000,) int64.

    Columns are read by their header names, so their order in the file does not
    matter; `bought` must be 0 or 1.
    """
    columns = (*PURCHASE_FEATURES, "bought")
    where, lines, cells = _read_csv("purchase.csv", path, make_purchase_csv, columns)
    X = np.column_stack([_numbers(where, lines, c, cells[c]) for c in PURCHASE_FEATURES])
    return X, _binary_labels(where, lines, "bought", cells["bought"])


def purchase(*, standardize=True, test_size=0.2, seed=0, dtype=np.float32, path=None):
    """The purchase set (age, income, education -> bought 0/1), split stratified by label.

    With `standardize`, features are scaled by the training set's mean and std
    only. x: (n, 3) `dtype`, y: (n,) int64 (use `y.astype(np.float32)` for a BCE
    loss). Default: 800 train / 200 test rows. The data are synthetic: see
    `make_purchase_csv` and data/README.md.
    """
    X, y = purchase_table(path)
    x_tr, x_te, y_tr, y_te = _split(X, y, test_size, seed, stratify=True)
    if standardize:
        x_tr, x_te = _standardize(x_tr, x_te)
    return Split(x_tr.astype(dtype), y_tr, x_te.astype(dtype), y_te, source="purchase (synthetic)",
                 feature_names=PURCHASE_FEATURES, classes=("no", "yes"))


_SUBJECTS = ("movie", "film", "plot", "acting", "story", "script", "cast", "ending",
             "music", "dialogue", "pacing", "camera work")
_POSITIVE = ("good", "great", "wonderful", "brilliant", "enjoyable", "fun", "moving",
             "clever", "beautiful", "superb", "charming", "gripping")
_NEGATIVE = ("bad", "boring", "awful", "dull", "terrible", "weak", "predictable",
             "messy", "bland", "painful", "clumsy", "tedious")
_VERBS = ("was", "is", "felt", "seemed")
_INTENSIFIERS = ("", "really ", "very ", "quite ", "truly ", "so ")
_NEGATORS = ("not", "never")
_OPENERS = ("", "", "", "honestly ", "overall ", "i think ")


def _clause(rng, positive, negated):
    """'the plot was (not) (really) <adjective>': its sentiment is `positive`."""
    adjective = rng.choice(_POSITIVE if positive != negated else _NEGATIVE)
    negation = f"{rng.choice(_NEGATORS)} " if negated else ""
    return (f"{rng.choice(('the', 'this'))} {rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} "
            f"{negation}{rng.choice(_INTENSIFIERS)}{adjective}")


def make_sentiment_csv(n=2000, seed=SENTIMENT_SEED):
    """Text of data/sentiment.csv: templated movie-review sentences labelled 1 positive, 0 negative.

    70 % are one plain clause ("the plot was really dull"), 10 % one negated clause
    ("the acting was not good"), 10 % "<other> but <main>" and 10 % "although
    <other> <main>" or "<main> although <other>", where the other clause has the
    opposite sentiment and either clause may be negated. Negation and word order
    decide the label there, which a bag of words cannot see, so an LSTM beats it.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        label = int(rng.integers(2))
        kind = rng.choice(4, p=[0.7, 0.1, 0.1, 0.1])
        if kind == 0:
            text = _clause(rng, label, negated=False)
        elif kind == 1:
            text = _clause(rng, label, negated=True)
        else:
            main = _clause(rng, label, negated=bool(rng.integers(2)))
            other = _clause(rng, not label, negated=bool(rng.integers(2)))
            if kind == 2:
                text = f"{other} but {main}"
            elif rng.integers(2):
                text = f"although {other} {main}"
            else:
                text = f"{main} although {other}"
        rows.append((rng.choice(_OPENERS) + text, label))
    return _csv_text(("text", "label"), rows)


def sentiment_texts(path=None):
    """All sentences of the sentiment set: (list of n str, labels (n,) int64), n = 2000.

    Columns `text` and `label` (0 or 1) are read by their header names.
    """
    where, lines, cells = _read_csv("sentiment.csv", path, make_sentiment_csv, ("text", "label"))
    return cells["text"], _binary_labels(where, lines, "label", cells["label"])


# ---------------------------------------------------------------- text to integers

def tokenize(text):
    """Lower-cased words: 'Not THAT good!' -> ['not', 'that', 'good']."""
    return re.findall(r"[a-z0-9']+", text.lower())


def build_vocabulary(texts, *, max_size=None):
    """Index -> word list: 0 is PAD, 1 is UNK, then words by falling frequency (ties alphabetical).

    `max_size` caps the list's length (PAD and UNK included); rarer words become UNK.
    """
    if max_size is not None:
        _check_positive_int("max_size", max_size)
    counts = Counter(word for text in texts for word in tokenize(text))
    words = sorted(counts, key=lambda w: (-counts[w], w))
    vocabulary = [PAD, UNK] + words
    return vocabulary if max_size is None else vocabulary[:max(max_size, 2)]


def pad(sequences, maxlen, *, padding="pre"):
    """Integer sequences -> int64 array (n, maxlen), zero-padded and truncated on the `padding` side.

    "pre" (Keras's default) puts the zeros first and keeps the LAST maxlen tokens,
    so an RNN's final state comes right after real words; "post" does the opposite.
    """
    _check_positive_int("maxlen", maxlen)
    _check_choice("padding", padding, ("pre", "post"))
    out = np.zeros((len(sequences), maxlen), dtype=np.int64)
    for row, seq in zip(out, sequences):
        seq = list(seq)
        if padding == "pre":
            seq = seq[-maxlen:]
            row[maxlen - len(seq):] = seq
        else:
            seq = seq[:maxlen]
            row[:len(seq)] = seq
    return out


def encode(texts, vocabulary, maxlen=None, *, padding="pre"):
    """Texts -> int64 array (n, maxlen) of vocabulary indices (unknown words -> 1, padding -> 0).

    `maxlen=None` uses the longest text's length.
    """
    index = {word: i for i, word in enumerate(vocabulary)}
    sequences = [[index.get(word, 1) for word in tokenize(text)] for text in texts]
    if maxlen is None:
        maxlen = max(1, max((len(s) for s in sequences), default=1))
    return pad(sequences, maxlen, padding=padding)


def sentiment(*, maxlen=None, test_size=0.2, seed=0, path=None):
    """The sentiment set as padded integer sequences, split stratified by label.

    The vocabulary is built from the training sentences only. x: (n, maxlen)
    int64 (maxlen=None: the longest training sentence), y: (n,) int64.
    Default: 1600 train / 400 test sentences.
    """
    texts, labels = sentiment_texts(path)
    t_tr, t_te, y_tr, y_te = _split(texts, labels, test_size, seed, stratify=True)
    vocabulary = build_vocabulary(t_tr)
    if maxlen is None:
        maxlen = max(len(tokenize(t)) for t in t_tr)
    return Split(encode(t_tr, vocabulary, maxlen), y_tr, encode(t_te, vocabulary, maxlen), y_te,
                 source="sentiment (synthetic)", classes=("negative", "positive"),
                 vocabulary=vocabulary, vocab_size=len(vocabulary))


# ---------------------------------------------------------------- mini-batches

def batches(X, y, batch_size, *, shuffle=True, rng=0, drop_last=False):
    """Iterate over mini-batches `(xb, yb)` of NumPy arrays (one pass = one epoch).

    `rng` is an int seed or a `numpy.random.Generator`: pass ONE Generator across
    epochs for a fresh but reproducible order each epoch (an int gives the same
    order on every call). The last batch is smaller unless `drop_last`.
    """
    X, y = np.asarray(X), np.asarray(y)
    _check_positive_int("batch_size", batch_size)
    _check_same_length(X, y)
    order = np.random.default_rng(rng).permutation(len(X)) if shuffle else np.arange(len(X))
    stop = len(X) - len(X) % batch_size if drop_last else len(X)
    return ((X[order[i:i + batch_size]], y[order[i:i + batch_size]]) for i in range(0, stop, batch_size))


class TensorRows:
    """The dataset `torch_loader` iterates: equal-length tensors, row `i` is
    `(x[i], y[i])` as in a `TensorDataset`. A DataLoader asks a dataset that has
    `__getitems__` for a whole batch at once: one indexing per tensor, instead of
    one row at a time and a stack (the same batches, bit for bit)."""

    def __init__(self, *tensors):
        self.tensors = tensors

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(tensor[index] for tensor in self.tensors)

    def __getitems__(self, indices):
        return [tensor[indices] for tensor in self.tensors]


def _batch_as_is(batch):
    """`torch_loader`'s collate_fn: `TensorRows.__getitems__` made the batch already."""
    return batch


def torch_loader(X, y, batch_size, shuffle=True, seed=0, drop_last=False):
    """A `torch.utils.data.DataLoader` over arrays; its own seeded generator fixes the shuffles.

    Tensors keep the arrays' dtypes (float32 features, int64 labels stay so).
    Batches are `[x, y]` lists, as from a `TensorDataset`, gathered in one step
    each (`TensorRows`).
    """
    import torch
    from torch.utils.data import DataLoader
    _check_positive_int("batch_size", batch_size)
    _check_same_length(X, y)
    dataset = TensorRows(torch.as_tensor(np.asarray(X)), torch.as_tensor(np.asarray(y)))
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
                      generator=torch.Generator().manual_seed(seed), collate_fn=_batch_as_is)


def tf_dataset(X, y, batch_size, shuffle=True, seed=0, drop_last=False):
    """A batched `tf.data.Dataset` of `(x, y)`, reshuffled every epoch from a fixed seed."""
    import tensorflow as tf
    _check_positive_int("batch_size", batch_size)
    _check_same_length(X, y)
    dataset = tf.data.Dataset.from_tensor_slices((np.asarray(X), np.asarray(y)))
    if shuffle:
        dataset = dataset.shuffle(len(X), seed=seed, reshuffle_each_iteration=True)
    return dataset.batch(batch_size, drop_remainder=drop_last).prefetch(tf.data.AUTOTUNE)


# ---------------------------------------------------------------- real online sets

def _keras_load(name, **kwargs):
    """`keras.datasets.<name>.load_data(**kwargs)`: Keras's cache, else a download into it.

    The only function here that may use the network (tests replace it).
    """
    import keras
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(_NETWORK_TIMEOUT_S)
    try:
        return getattr(keras.datasets, name).load_data(**kwargs)
    finally:
        socket.setdefaulttimeout(previous)


def _reason(error):
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    return first_line if len(first_line) <= 300 else first_line[:297] + "..."  # room for a path


def _subset(x, y, n, rng):
    """At most n rows, drawn without replacement (all rows, in order, when n is None)."""
    if n is None or n >= len(x):
        return x, y
    keep = np.sort(rng.choice(len(x), size=n, replace=False))
    return x[keep], y[keep]


def _check_limits(n_train, n_test):
    for name, n in (("n_train", n_train), ("n_test", n_test)):
        if n is not None:
            _check_positive_int(name, n)


def _subset_split(split, n_train, n_test, seed, **changes):
    rng = np.random.default_rng(seed)
    x_tr, y_tr = _subset(split.x_train, split.y_train, n_train, rng)
    x_te, y_te = _subset(split.x_test, split.y_test, n_test, rng)
    return replace(split, x_train=x_tr, y_train=y_tr, x_test=x_te, y_test=y_te, **changes)


def _keras_home(cache_dir):
    # Keras caches under $KERAS_HOME, else ~/.keras (keras.utils.get_file's rule).
    return Path(cache_dir or os.environ.get("KERAS_HOME") or Path.home() / ".keras")


def _cifar10_folder(cache_dir):
    """The extracted batches in Keras's cache: Keras 3's folder, then Keras 2's; None if absent."""
    datasets = _keras_home(cache_dir) / "datasets"
    for folder in (datasets / "cifar-10-batches-py-target" / "cifar-10-batches-py",
                   datasets / "cifar-10-batches-py"):
        if (folder / "test_batch").exists():
            return folder
    return None


def _read_cifar10_folder(folder):
    """Every data_batch_* and test_batch, parsed by Keras's own reader: uint8 (N, 3, 32, 32), labels.

    A missing or unreadable batch, or labels outside 0-9, raise a ValueError naming the file.
    """
    from keras.src.datasets.cifar import load_batch  # what keras.datasets.cifar10 parses with

    def read_batch(path):
        try:
            x, labels = load_batch(str(path))
        except Exception as error:
            raise ValueError(f"{path} is not a readable CIFAR-10 batch ({_reason(error)})") from error
        labels = np.asarray(labels)
        if labels.shape != (len(x),) or not np.isin(labels, range(10)).all():
            raise ValueError(f"{path}: labels must be one class 0-9 per image; got {len(labels)} "
                             f"for {len(x)} images, values {np.unique(labels)[:10].tolist()}")
        return x, labels.astype(np.int64)

    def read(paths):
        parts = [read_batch(p) for p in paths]
        return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])

    train = sorted(folder.glob("data_batch_*"))
    if not train:
        raise ValueError(f"{folder} has a test_batch but no data_batch_* files")
    return read(train), read([folder / "test_batch"])


def _cifar10_arrays(cache_dir):
    folder = _cifar10_folder(cache_dir)
    if folder is not None:
        return _read_cifar10_folder(folder), f"read from the Keras cache {folder}"
    (x_tr, y_tr), (x_te, y_te) = _keras_load("cifar10")
    nchw = [x.transpose(0, 3, 1, 2) if x.shape[-1] == 3 else x for x in (x_tr, x_te)]
    train = (nchw[0], y_tr.ravel().astype(np.int64))
    return (train, (nchw[1], y_te.ravel().astype(np.int64))), "loaded by keras.datasets.cifar10"


def cifar10(*, n_train=None, n_test=None, layout="torch", seed=0, dtype=np.float32, cache_dir=None):
    """CIFAR-10 (50000 train / 10000 test colour 32x32 images, 10 classes), or `digits` offline.

    Looks for the batches Keras extracted under `cache_dir` (default $KERAS_HOME
    or ~/.keras), else asks `keras.datasets.cifar10.load_data()` to download them;
    when neither works, returns `digits(layout=..., seed=...)` instead. Prints one
    line saying which and why. x: (n, 3, 32, 32) for layout="torch", (n, 32, 32, 3)
    for "keras", in [0, 1], `dtype`; y: (n,) int64. `n_train` / `n_test` keep at
    most that many rows, drawn with `seed` (lessons on a CPU use a few thousand).
    """
    _check_choice("layout", layout, ("torch", "keras"))
    _check_limits(n_train, n_test)
    try:
        ((x_tr, y_tr), (x_te, y_te)), how = _cifar10_arrays(cache_dir)
    except Exception as error:  # no cache and no network, or no Keras: teach on the offline set
        print(f"CIFAR-10 unavailable ({_reason(error)}); using the offline digits set (8x8 grey) instead.")
        return _subset_split(digits(layout=layout, seed=seed, dtype=dtype), n_train, n_test, seed,
                             source="digits (offline fallback for CIFAR-10)")
    print(f"CIFAR-10 {how}.")
    # Subset the uint8 images before scaling: all 60000 as float32 would take 737 MB.
    raw = _subset_split(Split(x_tr, y_tr, x_te, y_te), n_train, n_test, seed)

    def scale(images):
        return _image_layout(np.divide(images, 255, dtype=dtype), layout)
    return Split(scale(raw.x_train), raw.y_train, scale(raw.x_test), raw.y_test,
                 source="CIFAR-10", classes=CIFAR10_CLASSES)


def imdb(*, num_words=10000, maxlen=200, n_train=None, n_test=None, seed=0):
    """IMDB movie reviews (25000 train / 25000 test, 0 negative / 1 positive), or `sentiment` offline.

    Uses `keras.datasets.imdb.load_data(num_words=num_words, seed=seed)` (Keras's
    cache, else a download); when that fails, returns `sentiment(seed=seed)` with
    its own vocabulary and maxlen. Prints one line saying which and why.
    x: (n, maxlen) int64, padded/truncated at the front; Keras's indices
    (0 pad, 1 start, 2 out-of-vocabulary, a word's frequency rank + 3, all < num_words), so
    `vocab_size` = num_words; y: (n,) int64. `n_train` / `n_test` keep at most
    that many reviews, drawn with `seed`.
    """
    _check_positive_int("num_words", num_words)
    _check_positive_int("maxlen", maxlen)
    _check_limits(n_train, n_test)
    try:
        (x_tr, y_tr), (x_te, y_te) = _keras_load("imdb", num_words=num_words, seed=seed)
    except Exception as error:  # no cache and no network, or no Keras: teach on the offline set
        print(f"IMDB unavailable ({_reason(error)}); using the offline sentiment set instead.")
        return _subset_split(sentiment(seed=seed), n_train, n_test, seed,
                             source="sentiment (offline fallback for IMDB)")
    print("IMDB loaded by keras.datasets.imdb.")
    full = Split(pad(x_tr, maxlen), np.asarray(y_tr, dtype=np.int64), pad(x_te, maxlen),
                 np.asarray(y_te, dtype=np.int64), source="IMDB", classes=("negative", "positive"),
                 vocab_size=num_words)
    return _subset_split(full, n_train, n_test, seed)
