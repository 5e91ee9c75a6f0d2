"""lessons_lib.data: offline sets, shipped files, mini-batches and the real loaders' offline paths.

Nothing here touches the network: the online loaders read small files written in
the real Keras cache formats into temporary folders, and "no network" is a
download that raises.
"""
import pickle
import re
import struct
import subprocess
import sys
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from lessons_lib import data

ROOT = Path(__file__).resolve().parents[1]


def assert_splits_equal(a, b):
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


# ---------------------------------------------------------------- import cost

def test_importing_data_does_not_import_torch_or_tensorflow():
    code = ("import sys, lessons_lib.data; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------- small offline sets

def test_toy_regression_is_the_seed_example():
    x, y = data.toy_regression()
    assert x.shape == y.shape == (4, 1)
    np.testing.assert_array_equal(x.ravel(), [1, 2, 3, 4])
    np.testing.assert_array_equal(y, 2 * x)


def test_diabetes_is_standardised_with_training_statistics_only():
    from sklearn.datasets import load_diabetes
    from sklearn.model_selection import train_test_split
    split = data.diabetes(seed=3)
    assert split.x_train.shape == (353, 10) and split.x_test.shape == (89, 10)
    assert split.y_train.shape == (353,) and split.x_train.dtype == np.float64
    np.testing.assert_allclose(split.x_train.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(split.x_train.std(0), 1, atol=1e-12)
    # The test rows use the TRAINING mean and std, recomputed here from the raw data.
    raw = load_diabetes(scaled=False)
    x_tr, x_te, y_tr, y_te = train_test_split(raw.data, raw.target, test_size=0.2, random_state=3)
    np.testing.assert_allclose(split.x_test, (x_te - x_tr.mean(0)) / x_tr.std(0), rtol=1e-10)
    np.testing.assert_allclose(split.y_test, (y_te - y_tr.mean()) / y_tr.std(), rtol=1e-10)
    assert abs(split.x_test.mean()) > 1e-3  # not re-centred on its own statistics


def test_diabetes_options_and_determinism():
    assert data.diabetes(dtype=np.float32).x_train.dtype == np.float32
    raw_target = data.diabetes(standardize_target=False).y_train
    assert raw_target.min() >= 25 and raw_target.max() <= 346
    assert_splits_equal(data.diabetes(seed=1), data.diabetes(seed=1))
    assert not np.array_equal(data.diabetes(seed=1).x_train, data.diabetes(seed=2).x_train)


def test_digits_layouts_scale_and_split():
    torch_split = data.digits(seed=4)
    keras_split = data.digits(layout="keras", seed=4)
    assert torch_split.x_train.shape == (1437, 1, 8, 8) and torch_split.x_test.shape == (360, 1, 8, 8)
    assert keras_split.x_train.shape == (1437, 8, 8, 1)
    np.testing.assert_array_equal(keras_split.x_train, torch_split.x_train.transpose(0, 2, 3, 1))
    assert torch_split.x_train.dtype == np.float32 and torch_split.y_train.dtype == np.int64
    assert torch_split.x_train.min() == 0.0 and torch_split.x_train.max() == 1.0
    assert np.bincount(torch_split.y_test).min() >= 35  # stratified: every digit ~36 times
    assert_splits_equal(data.digits(seed=4), torch_split)


def test_digits_rejects_unknown_layout():
    with pytest.raises(ValueError, match=r"layout must be one of 'torch', 'keras'; got 'nchw'"):
        data.digits(layout="nchw")


def test_split_unpacks_and_describes_itself():
    split = data.purchase()
    x_train, y_train, x_test, y_test = split
    assert x_train is split.x_train and y_test is split.y_test
    assert "x_train=(800, 3) float32" in repr(split)


# ---------------------------------------------------------------- shipped synthetic sets

@pytest.mark.parametrize("name", ["purchase", "sentiment"])
def test_script_regenerates_the_shipped_file_exactly(name, tmp_path):
    out = tmp_path / f"{name}.csv"
    subprocess.run([sys.executable, str(ROOT / "data" / f"make_{name}.py"), "--out", str(out)],
                   check=True, capture_output=True)
    assert out.read_bytes() == (ROOT / "data" / f"{name}.csv").read_bytes()


def test_purchase_table_follows_its_model():
    X, y = data.purchase_table()
    assert X.shape == (1000, 3) and y.shape == (1000,)
    age, income, education = X.T
    assert age.min() >= 18 and age.max() <= 70 and np.all(age == np.round(age))
    assert set(np.unique(education)) == {0, 1, 2, 3} and income.min() >= 8
    assert 0.3 < y.mean() < 0.45
    assert np.corrcoef(age, income)[0, 1] > 0.5  # income was drawn to rise with age
    # The stated model's own probabilities predict the labels well but not perfectly.
    p = 1 / (1 + np.exp(-(-9 + 0.05 * age + 0.1 * income + 0.4 * education)))
    assert 0.78 < np.mean((p > 0.5) == y) < 0.9


def test_purchase_gives_a_sensible_not_perfect_logistic_regression():
    from sklearn.linear_model import LogisticRegression
    split = data.purchase()
    assert split.x_train.shape == (800, 3) and split.x_test.shape == (200, 3)
    np.testing.assert_allclose(split.x_train.mean(0), 0, atol=1e-5)
    accuracy = LogisticRegression().fit(split.x_train, split.y_train).score(split.x_test, split.y_test)
    assert 0.78 < accuracy < 0.92


def test_purchase_unstandardised_and_regenerated_without_data_folder(tmp_path, monkeypatch):
    raw = data.purchase(standardize=False, dtype=np.float64)
    X, _ = data.purchase_table()
    assert {tuple(row) for row in raw.x_train} <= {tuple(row) for row in X}
    monkeypatch.setattr(data, "DATA_DIR", tmp_path)  # like a pip-installed lessons_lib
    assert_splits_equal(data.purchase(standardize=False, dtype=np.float64), raw)


# ---------------------------------------------------------------- CSV files that are not right

PURCHASE_ROWS = "age,income,education,bought\n56,68.9,1,1\n35,35.1,1,0\n"


def write(tmp_path, content, name="purchase.csv"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def test_purchase_table_reads_columns_by_header_name(tmp_path):
    # The same columns in another order used to come back by position: income as labels.
    path = write(tmp_path, "bought,income,education,age,note\n1,68.9,1,56,x\n0,35.1,1,35,y\n\n")
    X, y = data.purchase_table(path)
    np.testing.assert_array_equal(X, [[56, 68.9, 1], [35, 35.1, 1]])
    np.testing.assert_array_equal(y, [1, 0])
    assert y.dtype == np.int64 and X.dtype == np.float64


@pytest.mark.parametrize("content, message", [
    # labels 7 and 0.5 used to come back as 7 and 0
    (PURCHASE_ROWS + "40,50.0,2,7\n", r", line 4: bought='7' is not a label; valid: 0 or 1$"),
    (PURCHASE_ROWS + "40,50.0,2,0.5\n", r", line 4: bought='0.5' is not a label; valid: 0 or 1$"),
    (PURCHASE_ROWS + "40,50.0,2,yes\n", r", line 4: bought='yes' is not a label; valid: 0 or 1$"),
    (PURCHASE_ROWS + "40,50.0,2\n", r", line 4: 3 fields, but the header "
                                   r"'age,income,education,bought' has 4$"),
    (PURCHASE_ROWS + "40,50.0,2,1,9\n", r", line 4: 5 fields, but the header .* has 4$"),
    ("", r" is empty; expected a header line 'age,income,education,bought' and then rows$"),
    ("\n\n", r" is empty; expected a header line"),
    ("\nage,income,bought\n56,68.9,1\n", r": the header 'age,income,bought' lacks the column"),
    ("age,income,education,bought\n", r" has a header but no rows$"),
    ("age,income,bought\n56,68.9,1\n", r": the header 'age,income,bought' lacks the column "
                                        r"'education'; expected the columns "
                                        r"age,income,education,bought \(in any order\)$"),
    ("56,68.9,1,1\n35,35.1,1,0\n", r": the header '56,68.9,1,1' lacks the column 'age'"),
    ("age,age,income,education,bought\n1,56,68.9,1,1\n", r": the header .* repeats the column 'age'"),
    (PURCHASE_ROWS + "40,lots,2,1\n", r", line 4: income='lots' is not a finite number$"),
    (PURCHASE_ROWS + "40,nan,2,1\n", r", line 4: income='nan' is not a finite number$"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe", r" is not a UTF-8 text \(CSV\) file: "
                                                       r"byte 0 is b'\\x89'$"),
    (bytes(np.random.default_rng(0).integers(0, 128, 300, dtype=np.uint8)),
     r": the header .* lacks the column 'age'"),
])
def test_a_broken_purchase_file_is_named_with_the_line(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(ValueError, match="^" + re.escape(str(path)) + message):
        data.purchase_table(path)
    with pytest.raises(ValueError, match=re.escape(str(path))):
        data.purchase(path=path)


def test_a_line_number_counts_the_file_s_lines_not_the_rows(tmp_path):
    path = write(tmp_path, 'age,income,education,bought\n56,68.9,1,1\n\n"35",35.1,1,2\n')
    with pytest.raises(ValueError, match=r", line 4: bought='2'"):
        data.purchase_table(path)


@pytest.mark.parametrize("content, message", [
    ('label,text\n1,"good, really"\n0,bad\n', None),
    ("text,label\ngood,1\nbad,2\n", r", line 3: label='2' is not a label; valid: 0 or 1$"),
    ("text,label\ngood,1\nbad,0.0\n", r", line 3: label='0.0' is not a label"),
    ("text,score\ngood,1\n", r": the header 'text,score' lacks the column 'label'"),
    ("text,label\ngood,1\nbad\n", r", line 3: 1 fields, but the header 'text,label' has 2$"),
    ("", r" is empty; expected a header line 'text,label'"),
])
def test_sentiment_texts_read_by_header_and_name_a_broken_file(tmp_path, content, message):
    path = write(tmp_path, content, "sentiment.csv")
    if message is None:
        texts, labels = data.sentiment_texts(path)
        assert texts == ["good, really", "bad"] and labels.tolist() == [1, 0]
        return
    with pytest.raises(ValueError, match="^" + re.escape(str(path)) + message):
        data.sentiment_texts(path)


def test_a_missing_file_names_itself(tmp_path):
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "nope.csv"))):
        data.purchase_table(tmp_path / "nope.csv")


def test_sentiment_texts_are_balanced_short_sentences():
    texts, labels = data.sentiment_texts()
    assert len(texts) == len(labels) == 2000
    assert 0.45 < labels.mean() < 0.55
    assert max(len(data.tokenize(t)) for t in texts) <= 20
    assert any(" but " in t for t in texts) and any(" not " in t for t in texts)


def test_sentiment_split_and_vocabulary():
    split = data.sentiment(seed=2)
    assert split.x_train.shape[0] == 1600 and split.x_test.shape[0] == 400
    assert split.x_train.dtype == np.int64 and split.vocabulary[:2] == [data.PAD, data.UNK]
    assert split.vocab_size == len(split.vocabulary) and split.x_train.max() < split.vocab_size
    assert np.all(split.x_train[:, -1] > 0)  # padded at the front: every row ends with a word
    assert_splits_equal(data.sentiment(seed=2), split)


def test_sentiment_needs_word_order_so_an_lstm_beats_a_bag_of_words():
    torch = pytest.importorskip("torch")
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    texts, labels = data.sentiment_texts()
    counts = CountVectorizer().fit(texts[:1600])
    bow = LogisticRegression(max_iter=1000).fit(counts.transform(texts[:1600]), labels[:1600])
    bow_accuracy = bow.score(counts.transform(texts[1600:]), labels[1600:])

    split = data.sentiment(seed=0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and CI shares its cores
    try:
        torch.manual_seed(0)
        model = _TinyLSTM(torch, split.vocab_size)
        optimizer = torch.optim.RMSprop(model.parameters(), lr=3e-3)
        for _ in range(4):
            for xb, yb in data.torch_loader(split.x_train, split.y_train.astype(np.float32), 32, seed=0):
                optimizer.zero_grad()
                torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb).backward()
                optimizer.step()
        with torch.no_grad():
            predictions = (model(torch.as_tensor(split.x_test)) > 0).numpy()
    finally:
        torch.set_num_threads(threads)
    lstm_accuracy = np.mean(predictions == split.y_test)
    assert 0.65 < bow_accuracy < 0.85
    assert lstm_accuracy > max(0.9, bow_accuracy + 0.08)


def _TinyLSTM(torch, vocab_size):
    class TinyLSTM(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab_size, 16, padding_idx=0)
            self.lstm = torch.nn.LSTM(16, 32, batch_first=True)
            self.out = torch.nn.Linear(32, 1)

        def forward(self, x):
            states, _ = self.lstm(self.embed(x))
            return self.out(states[:, -1]).squeeze(1)
    return TinyLSTM()


# ---------------------------------------------------------------- text helpers

def test_tokenize_and_vocabulary_order():
    assert data.tokenize("Not THAT good, isn't it!") == ["not", "that", "good", "isn't", "it"]
    vocabulary = data.build_vocabulary(["b a", "a c", "a b"])
    assert vocabulary == [data.PAD, data.UNK, "a", "b", "c"]  # by frequency, ties alphabetical
    assert data.build_vocabulary(["b a", "a c", "a b"], max_size=3) == [data.PAD, data.UNK, "a"]


def test_encode_pads_and_truncates():
    vocabulary = [data.PAD, data.UNK, "good", "movie"]
    np.testing.assert_array_equal(data.encode(["good movie", "bad movie good"], vocabulary),
                                  [[0, 2, 3], [1, 3, 2]])
    np.testing.assert_array_equal(data.encode(["good movie"], vocabulary, 3, padding="post"), [[2, 3, 0]])
    np.testing.assert_array_equal(data.pad([[5, 6, 7, 8], []], 2), [[7, 8], [0, 0]])
    np.testing.assert_array_equal(data.pad([[5, 6, 7, 8]], 2, padding="post"), [[5, 6]])


@pytest.mark.parametrize("call, message", [
    (lambda: data.pad([[1]], 0), r"maxlen must be a positive integer; got 0"),
    (lambda: data.pad([[1]], 2, padding="left"), r"padding must be one of 'pre', 'post'; got 'left'"),
    (lambda: data.build_vocabulary(["a"], max_size=0), r"max_size must be a positive integer; got 0"),
])
def test_text_helpers_validate(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------- mini-batches

def test_batches_cover_every_row_once_and_shuffle_reproducibly():
    X, y = np.arange(10).reshape(10, 1), np.arange(10)
    first = list(data.batches(X, y, 4, rng=0))
    assert [len(xb) for xb, _ in first] == [4, 4, 2]
    seen = np.concatenate([yb for _, yb in first])
    assert sorted(seen) == list(range(10)) and not np.array_equal(seen, np.arange(10))
    assert all(np.array_equal(xb.ravel(), yb) for xb, yb in first)  # rows stay paired
    assert_splits_equal([b for pair in first for b in pair],
                        [b for pair in data.batches(X, y, 4, rng=0) for b in pair])


def test_batches_with_one_generator_reshuffle_each_epoch():
    X = y = np.arange(50)
    rng = np.random.default_rng(0)
    epoch1 = np.concatenate([yb for _, yb in data.batches(X, y, 8, rng=rng)])
    epoch2 = np.concatenate([yb for _, yb in data.batches(X, y, 8, rng=rng)])
    assert sorted(epoch1) == sorted(epoch2) and not np.array_equal(epoch1, epoch2)


def test_batches_without_shuffle_and_drop_last():
    X = y = np.arange(10)
    in_order = [yb.tolist() for _, yb in data.batches(X, y, 4, shuffle=False)]
    assert in_order == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert [len(yb) for _, yb in data.batches(X, y, 4, drop_last=True)] == [4, 4]


@pytest.mark.parametrize("batch_size", [0, -3, 2.5, True, "8"])
def test_batch_size_is_validated_at_once(batch_size):
    # Validated when called, not when first iterated.
    with pytest.raises(ValueError, match=rf"batch_size must be a positive integer; got {batch_size!r}"):
        data.batches(np.zeros(4), np.zeros(4), batch_size)


def test_batches_refuse_mismatched_lengths():
    with pytest.raises(ValueError, match=r"X and y must have the same length; got len\(X\)=4 and len\(y\)=3"):
        data.batches(np.zeros(4), np.zeros(3), 2)


def epochs_of(loader, count):
    return [np.concatenate([np.asarray(yb) for _, yb in loader]) for _ in range(count)]


def test_torch_loader_is_seeded_and_keeps_dtypes():
    pytest.importorskip("torch")
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    first, second = epochs_of(data.torch_loader(X, y, 4, seed=5), 2)
    assert sorted(first) == list(range(10)) and not np.array_equal(first, second)
    assert_splits_equal(epochs_of(data.torch_loader(X, y, 4, seed=5), 2), [first, second])
    xb, yb = next(iter(data.torch_loader(X, y, 4, seed=5)))
    assert str(xb.dtype) == "torch.float32" and str(yb.dtype) == "torch.int64"
    np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())  # rows stay paired
    assert [len(b) for b, _ in data.torch_loader(X, y, 4, drop_last=True)] == [4, 4]
    with pytest.raises(ValueError, match="batch_size must be a positive integer; got 0"):
        data.torch_loader(X, y, 0)


@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (True, True), (False, False)])
def test_torch_loader_gives_the_batches_of_a_plain_tensor_dataset_loader(shuffle, drop_last):
    """The batch-at-once gathering changes the speed only: the same batches, types
    and count as DataLoader(TensorDataset(...)) with the same seed, bit for bit."""
    torch = pytest.importorskip("torch")
    import pickle

    from torch.utils.data import DataLoader, TensorDataset
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((103, 3, 4)).astype(np.float32), rng.integers(0, 5, 103)
    ours = data.torch_loader(X, y, 16, shuffle=shuffle, seed=7, drop_last=drop_last)
    plain = DataLoader(TensorDataset(torch.as_tensor(X), torch.as_tensor(y)), batch_size=16,
                       shuffle=shuffle, drop_last=drop_last,
                       generator=torch.Generator().manual_seed(7))
    assert len(ours) == len(plain) and ours.batch_size == 16
    for _ in range(2):                                   # two epochs: the reshuffle too
        batches = list(zip(ours, plain, strict=True))
        for a, b in batches:
            assert type(a) is type(b) is list
            assert all(torch.equal(u, v) and u.dtype == v.dtype for u, v in zip(a, b))
    x0, y0 = ours.dataset[5]                             # one row, as from a TensorDataset
    assert torch.equal(x0, torch.as_tensor(X[5])) and int(y0) == y[5]
    again = pickle.loads(pickle.dumps(ours.dataset))     # worker processes get a copy
    assert torch.equal(again.tensors[0], ours.dataset.tensors[0])


def test_tf_dataset_is_seeded_and_reshuffles_each_epoch():
    pytest.importorskip("tensorflow")
    X, y = np.arange(20, dtype=np.float32).reshape(10, 2), np.arange(10)
    first, second = epochs_of(data.tf_dataset(X, y, 4, seed=5), 2)
    assert sorted(first) == list(range(10)) and not np.array_equal(first, second)
    assert_splits_equal(epochs_of(data.tf_dataset(X, y, 4, seed=5), 2), [first, second])
    xb, yb = next(iter(data.tf_dataset(X, y, 4, seed=5)))
    np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())
    assert [len(b) for b, _ in data.tf_dataset(X, y, 4, drop_last=True)] == [4, 4]
    assert epochs_of(data.tf_dataset(X, y, 4, shuffle=False), 1)[0].tolist() == list(range(10))
    with pytest.raises(ValueError, match="X and y must have the same length"):
        data.tf_dataset(X, y[:5], 4)


# ---------------------------------------------------------------- CIFAR-10 (Keras cache format)

class Python2Pickler(pickle._Pickler):
    """Writes every string as a Python 2 `str` (BINSTRING opcode), as Python 2 pickled the
    CIFAR-10 batches (numpy's dtype codes inside included)."""
    dispatch = dict(pickle._Pickler.dispatch)

    def save_python2_str(self, obj):
        raw = obj.encode("ascii") if isinstance(obj, str) else obj
        self.write(pickle.BINSTRING + struct.pack("<i", len(raw)) + raw)
        self.memoize(obj)
    dispatch[bytes] = dispatch[str] = save_python2_str


def write_cifar_batch(path, images_hwc, labels):
    """One batch as the CIFAR-10 python release stores it: a Python 2, protocol-2 pickle of a dict
    with bytes keys; each row of b"data" is 3072 bytes, the red, green and blue 32x32 planes."""
    rows = images_hwc.transpose(0, 3, 1, 2).reshape(len(images_hwc), 3072)
    batch = {b"batch_label": b"test fixture", b"labels": list(map(int, labels)), b"data": rows,
             b"filenames": [f"img{i}.png".encode() for i in range(len(labels))]}
    with open(path, "wb") as f:
        Python2Pickler(f, protocol=2).dump(batch)


@pytest.fixture
def cifar_cache(tmp_path):
    """A Keras 3 cache holding two small training batches and a test batch; returns (dir, images, labels)."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(8, 32, 32, 3), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    folder = tmp_path / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    write_cifar_batch(folder / "data_batch_1", images[:3], labels[:3])
    write_cifar_batch(folder / "data_batch_2", images[3:6], labels[3:6])
    write_cifar_batch(folder / "test_batch", images[6:], labels[6:])
    return tmp_path, images, labels


def no_download(*args, **kwargs):
    raise AssertionError("a download was attempted")


def test_cifar10_reads_the_keras_cache_with_keras_parser(cifar_cache, monkeypatch, capsys):
    cache, images, labels = cifar_cache
    monkeypatch.setattr(data, "_keras_load", no_download)
    split = data.cifar10(layout="keras", cache_dir=cache)
    assert "CIFAR-10 read from the Keras cache" in capsys.readouterr().out
    assert split.source == "CIFAR-10" and split.classes[3] == "cat"
    assert split.x_train.shape == (6, 32, 32, 3) and split.x_train.dtype == np.float32
    np.testing.assert_allclose(split.x_train, images[:6] / 255.0, rtol=1e-6)
    np.testing.assert_allclose(split.x_test, images[6:] / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(split.y_train, labels[:6])
    assert split.y_test.dtype == np.int64
    torch_split = data.cifar10(layout="torch", cache_dir=cache)
    np.testing.assert_array_equal(torch_split.x_test, split.x_test.transpose(0, 3, 1, 2))


def test_cifar10_reads_the_keras2_cache_folder_and_subsets(cifar_cache, monkeypatch):
    cache, images, labels = cifar_cache
    (cache / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py").rename(
        cache / "datasets" / "cifar-10-batches-py")
    monkeypatch.setattr(data, "_keras_load", no_download)
    split = data.cifar10(n_train=4, n_test=1, seed=1, cache_dir=cache)
    assert split.x_train.shape == (4, 3, 32, 32) and split.x_test.shape == (1, 3, 32, 32)
    for x, y in zip(split.x_train, split.y_train):  # each kept image keeps its own label
        index = next(i for i in range(6) if np.allclose(x, images[i].transpose(2, 0, 1) / 255.0))
        assert y == labels[index]
    assert_splits_equal(data.cifar10(n_train=4, n_test=1, seed=1, cache_dir=cache), split)


def test_cifar10_converts_what_keras_load_data_returns(tmp_path, monkeypatch):
    # No cache: the arrays come from keras.datasets.cifar10.load_data(), channels last.
    images = np.random.default_rng(1).integers(0, 256, size=(5, 32, 32, 3), dtype=np.uint8)
    labels = np.arange(5, dtype=np.uint8).reshape(5, 1)
    monkeypatch.setattr(data, "_keras_load", lambda name: ((images[:3], labels[:3]), (images[3:], labels[3:])))
    split = data.cifar10(cache_dir=tmp_path)
    np.testing.assert_allclose(split.x_train, images[:3].transpose(0, 3, 1, 2) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(split.y_test, [3, 4])
    assert split.y_test.dtype == np.int64


def test_cifar10_falls_back_to_digits_without_cache_or_network(tmp_path, monkeypatch, capsys):
    def offline(name, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(data, "_keras_load", offline)
    split = data.cifar10(n_train=100, layout="keras", cache_dir=tmp_path)
    message = capsys.readouterr().out
    assert message.count("\n") == 1 and "no network" in message and "digits" in message
    assert split.source == "digits (offline fallback for CIFAR-10)"
    assert split.x_train.shape == (100, 8, 8, 1) and split.x_test.shape == (360, 8, 8, 1)


def broken_label_batch(folder):
    write_cifar_batch(folder / "data_batch_2", np.zeros((2, 32, 32, 3), np.uint8), [3, 10])


@pytest.mark.parametrize("damage, reason", [
    (lambda folder: (folder / "data_batch_2").write_bytes(b"\x00garbage"),
     r"{folder}/data_batch_2 is not a readable CIFAR-10 batch \("),
    (broken_label_batch, r"{folder}/data_batch_2: labels must be one class 0-9 per image; "
                         r"got 2 for 2 images, values \[3, 10\]\)"),
    (lambda folder: [p.unlink() for p in folder.glob("data_batch_*")],
     r"{folder} has a test_batch but no data_batch_\* files"),
])
def test_cifar10_names_the_broken_file_in_its_cache(cifar_cache, monkeypatch, capsys, damage,
                                                    reason):
    # These used to surface as Keras's or NumPy's words ("need at least one array to
    # concatenate") without the file; labels outside 0-9 were kept.
    cache = cifar_cache[0]
    folder = cache / "datasets" / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    damage(folder)
    monkeypatch.setattr(data, "_keras_load", lambda name: no_download())
    split = data.cifar10(cache_dir=cache)
    out = capsys.readouterr().out
    assert re.match(r"CIFAR-10 unavailable \(" + reason.format(folder=re.escape(str(folder))), out)
    assert split.source == "digits (offline fallback for CIFAR-10)"


@pytest.mark.parametrize("kwargs, message", [
    ({"layout": "NHWC"}, r"layout must be one of 'torch', 'keras'; got 'NHWC'"),
    ({"n_train": 0}, r"n_train must be a positive integer; got 0"),
    ({"n_test": -1}, r"n_test must be a positive integer; got -1"),
])
def test_cifar10_validates_before_loading(kwargs, message, monkeypatch):
    monkeypatch.setattr(data, "_keras_load", no_download)
    with pytest.raises(ValueError, match=message):
        data.cifar10(**kwargs)


# ---------------------------------------------------------------- IMDB (through keras.datasets)

@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    """Point Keras's cache at tmp_path (it reads KERAS_HOME only when first imported) and forbid downloads."""
    pytest.importorskip("keras")
    from keras.src.backend import config
    from keras.src.utils import file_utils
    monkeypatch.setattr(config, "_KERAS_DIR", str(tmp_path))
    monkeypatch.setattr(file_utils, "urlretrieve", no_download)
    return tmp_path


def write_imdb_npz(path, x_train, y_train, x_test, y_test):
    """The format of Keras's imdb.npz: ragged object arrays of word ranks (1 = most frequent)."""
    ragged = lambda seqs: np.array([list(s) for s in seqs] + [None], dtype=object)[:-1]
    np.savez(path, x_train=ragged(x_train), y_train=np.array(y_train), x_test=ragged(x_test),
             y_test=np.array(y_test))


def test_imdb_reads_the_real_format_through_keras_datasets(keras_home, monkeypatch, capsys):
    from keras.src.utils import file_utils
    train = {(1, 2, 3): 1, (4, 5): 0, (6, 7, 8, 9, 10, 11): 1}
    test = {(2, 2): 0, (12,): 1}
    (keras_home / "datasets").mkdir()
    write_imdb_npz(keras_home / "datasets" / "imdb.npz", list(train), list(train.values()),
                   list(test), list(test.values()))
    # The fixture is not the real file, so its hash differs; everything else is Keras's own code.
    monkeypatch.setattr(file_utils, "validate_file", lambda *args, **kwargs: True)

    split = data.imdb(num_words=10, maxlen=4)
    assert capsys.readouterr().out.strip() == "IMDB loaded by keras.datasets.imdb."
    assert split.source == "IMDB" and split.vocab_size == 10
    assert split.x_train.shape == (3, 4) and split.x_test.shape == (2, 4)

    def keras_encoding(ranks):  # start 1, words shifted by 3, 2 for words outside num_words
        return [1] + [r + 3 if r + 3 < 10 else 2 for r in ranks]
    expected_train = {tuple(data.pad([keras_encoding(s)], 4)[0]): y for s, y in train.items()}
    assert {tuple(x): y for x, y in zip(split.x_train.tolist(), split.y_train)} == expected_train
    assert (0, 1, 5, 5) in {tuple(x) for x in split.x_test.tolist()}
    assert split.y_train.dtype == np.int64


def test_imdb_falls_back_when_keras_cannot_download(keras_home, monkeypatch, capsys):
    from keras.src.utils import file_utils

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("Name or service not known")
    monkeypatch.setattr(file_utils, "urlretrieve", offline)
    split = data.imdb(num_words=100, n_train=50)
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert out.startswith("IMDB unavailable (URL fetch failure") and "offline sentiment set" in out
    assert split.source == "sentiment (offline fallback for IMDB)"
    assert split.x_train.shape[0] == 50 and split.x_test.shape[0] == 400
    assert split.vocab_size == len(split.vocabulary)


def test_imdb_falls_back_without_keras_calling_the_network(monkeypatch, capsys):
    def offline(name, **kwargs):
        raise OSError("no network")
    monkeypatch.setattr(data, "_keras_load", offline)
    assert_splits_equal(data.imdb(), data.sentiment())
    assert "IMDB unavailable (no network)" in capsys.readouterr().out


def test_imdb_validates_before_loading(monkeypatch):
    monkeypatch.setattr(data, "_keras_load", no_download)
    with pytest.raises(ValueError, match="num_words must be a positive integer; got 0"):
        data.imdb(num_words=0)
    with pytest.raises(ValueError, match="maxlen must be a positive integer; got None"):
        data.imdb(maxlen=None)
