"""Lesson 12's text models: the tutorial sentiment LSTM in torch (packed
sequences) and Keras (`mask_zero`), padding sensitivity, raw gradient norms
per update with optional clipping, the clip threshold from a measured
distribution, and the sparsity of embedding gradients.

Sequences are integer arrays (n, T) padded with 0 at the FRONT, as
`lessons_lib.data.sentiment` and Keras's `pad_sequences` give them.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from lessons_lib.harness.callbacks import Callback

# The tutorial's sizes; the lesson's one knob for scaling down or up.
TUTORIAL = {"embed_dim": 100, "hidden": 128, "dropout": 0.5, "classes": 2}


def lengths(x):
    """The number of real (non-zero) tokens of each row of a padded batch."""
    return (torch.as_tensor(x) != 0).sum(dim=1)


def to_post_padding(x):
    """Padded rows -> the same tokens, in order, with every zero moved to the end.

    `pack_padded_sequence` takes the first `length` steps of each row, so it needs
    the padding at the end. Works on NumPy arrays and torch tensors alike.
    """
    t = torch.as_tensor(x)
    order = torch.argsort((t == 0).to(torch.int8), dim=1, stable=True)
    out = torch.gather(t, 1, order)
    return out.numpy() if isinstance(x, np.ndarray) else out


class SentimentLSTM(nn.Module):
    """Embedding -> LSTM -> dropout -> linear (the tutorial model), logits (n, classes).

    packed=True feeds the LSTM only the real tokens of each row (a PackedSequence),
    so the output cannot depend on the amount of padding; packed=False runs it
    over the zeros as well, as a naive port of the tutorial does.
    """

    def __init__(self, vocab_size, *, embed_dim=TUTORIAL["embed_dim"],
                 hidden=TUTORIAL["hidden"], dropout=TUTORIAL["dropout"],
                 classes=TUTORIAL["classes"], packed=True, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.packed = packed
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, classes)

    def forward(self, x):
        if self.packed:
            n_real = lengths(x).clamp(min=1).cpu()
            packed = pack_padded_sequence(self.embedding(to_post_padding(x)), n_real,
                                          batch_first=True, enforce_sorted=False)
            _, (h, _) = self.lstm(packed)
        else:
            _, (h, _) = self.lstm(self.embedding(x))
        return self.head(self.dropout(h[-1]))


def keras_model(vocab_size, *, embed_dim=TUTORIAL["embed_dim"], hidden=TUTORIAL["hidden"],
                dropout=TUTORIAL["dropout"], classes=TUTORIAL["classes"], mask_zero=True,
                seed=0):
    """The same model in Keras; `mask_zero=True` makes the LSTM skip the zeros."""
    import keras

    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.layers.Embedding(vocab_size, embed_dim, mask_zero=mask_zero),
        keras.layers.LSTM(hidden),
        keras.layers.Dropout(dropout),
        keras.layers.Dense(classes),
    ])


def with_extra_padding(x, extra):
    """Each row with `extra` more zeros in front (the same tokens)."""
    x = np.asarray(x)
    return np.concatenate([np.zeros((len(x), extra), dtype=x.dtype), x], axis=1)


def positive_probability(predict, x):
    """P(positive) from a function returning logits (n, 2) for an int array x."""
    logits = np.asarray(predict(x), dtype=np.float64)
    logits = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p[:, 1] / p.sum(axis=1)


def torch_logits(model):
    """A predict function (NumPy in, NumPy logits out) for a torch model in eval mode."""
    def predict(x):
        model.eval()
        with torch.no_grad():
            device = next(model.parameters()).device
            return model(torch.as_tensor(x, device=device)).cpu().numpy()
    return predict


def padding_shift(predict, x, extras=(0, 10, 30)):
    """{extra: mean |change| of P(positive) when `extra` zeros are added in front}."""
    base = positive_probability(predict, x)
    return {extra: float(np.abs(positive_probability(predict, with_extra_padding(x, extra))
                                - base).mean()) for extra in extras}


def padding_gradient_shift(model, x, y, loss, extras=(10, 50)):
    """{extra: ‖g(extra) − g(0)‖ / ‖g(0)‖}, g the gradient of `loss` over all the
    model's weights on the batch (x, y), g(extra) with `extra` more zeros in front,
    and the same for "at the end" (the zeros moved behind the words): what the
    optimizer is told to do, and how much the padding changes it."""
    def gradient(rows):
        model.eval()                      # no dropout: the same network both times
        model.zero_grad()
        loss(model(torch.as_tensor(rows)), torch.as_tensor(y)).backward()
        return torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    base = gradient(np.asarray(x))
    variants = {extra: with_extra_padding(x, extra) for extra in extras}
    variants["at the end"] = np.asarray(to_post_padding(np.asarray(x)))
    return {name: float((gradient(rows) - base).norm() / base.norm())
            for name, rows in variants.items()}


class RawGradNorm(Callback):
    """The global gradient norm of every update BEFORE clipping, clipping at `max_norm`.

    Use it instead of `fit(..., clip_grad_norm=...)` to see what clipping cut:
    `norms[i]` is update i's raw norm; with max_norm=None it only records.
    """

    def __init__(self, max_norm=None):
        self.max_norm = max_norm
        self.norms = []
        self._pending = []

    def on_train_begin(self, state):
        self.norms, self._pending = [], []

    def on_before_step(self, state):
        params = [p for p in state.model.parameters() if p.grad is not None]
        limit = float("inf") if self.max_norm is None else self.max_norm
        self._pending.append(torch.nn.utils.clip_grad_norm_(params, limit).detach())

    def on_epoch_end(self, state, row):
        if self._pending:
            self.norms.extend(torch.stack(self._pending).tolist())
            self._pending = []
        return False

    def clipped_share(self):
        """The fraction of updates whose raw norm was above max_norm."""
        if self.max_norm is None or not self.norms:
            return 0.0
        return float(np.mean(np.array(self.norms) > self.max_norm))


def clip_threshold(norms, percentile=95):
    """A clip threshold from measured raw norms: their `percentile`-th percentile."""
    return float(np.percentile(np.asarray(norms, dtype=np.float64), percentile))


def embedding_rows_touched(model, loader, loss):
    """Per batch: the fraction of the embedding's rows that get a non-zero gradient."""
    model.train()
    shares = []
    for x, y in loader:
        model.zero_grad()
        loss(model(x), y).backward()
        grad = model.embedding.weight.grad
        shares.append(float((grad.abs().sum(dim=1) > 0).float().mean()))
    model.zero_grad()
    return shares


def row_frequency(loader, vocab_size):
    """For each embedding row, the share of batches in which it gets a gradient
    (its token occurs in the batch); row 0, the padding, never does."""
    seen = []
    for x, _ in loader:
        present = np.zeros(vocab_size, dtype=bool)
        present[np.unique(np.asarray(x))] = True
        seen.append(present)
    frequency = np.mean(seen, axis=0)
    frequency[0] = 0.0
    return frequency


def unbalanced(x, y, *, keep=0.1, label=1, seed=0):
    """x, y with only a `keep` share of class `label`'s rows (drawn with `seed`)."""
    rng = np.random.default_rng(seed)
    rows = np.flatnonzero(y == label)
    dropped = rng.choice(rows, size=len(rows) - int(round(keep * len(rows))), replace=False)
    kept = np.setdiff1d(np.arange(len(y)), dropped)
    return x[kept], y[kept]


# -- PyTorch vs Keras: the same model, the same weights, the same updates --------------
def merge_lstm_biases(model):
    """Fold the torch LSTM's second bias into the first and freeze it at 0.

    torch's LSTM has two biases, b_ih and b_hh, that always appear as a sum; Keras's
    has one. Both torch biases get the same gradient, so an update moves their sum
    twice as far as Keras moves its one bias. After this call the sum lives in b_ih
    alone, b_hh is 0 with requires_grad=False, and the outputs are unchanged.
    """
    lstm = model.lstm
    with torch.no_grad():
        lstm.bias_ih_l0.add_(lstm.bias_hh_l0)
        lstm.bias_hh_l0.zero_()
    lstm.bias_hh_l0.requires_grad_(False)
    return model


def copy_torch_to_keras(model, keras_net):
    """Copy a `SentimentLSTM`'s weights into `keras_model(...)` of the same sizes.

    Gates: torch stacks them i, f, g, o (g the candidate cell) and Keras i, f, c, o:
    the same order, so the kernels are only transposed ((4H, E) -> (E, 4H)).
    Keras's one LSTM bias is torch's b_ih + b_hh; the head is transposed too.
    """
    def numpy(t):
        return t.detach().cpu().numpy()

    lstm = model.lstm
    keras_net(np.ones((1, 1), dtype=np.int64))          # builds the weights
    embedding, recurrent, _, dense = keras_net.layers
    embedding.set_weights([numpy(model.embedding.weight)])
    recurrent.set_weights([numpy(lstm.weight_ih_l0).T, numpy(lstm.weight_hh_l0).T,
                           numpy(lstm.bias_ih_l0 + lstm.bias_hh_l0)])
    dense.set_weights([numpy(model.head.weight).T, numpy(model.head.bias)])
    return keras_net


def fixed_batches(x, y, batch_size, epochs, seed=0):
    """[(xb, yb), ...] of NumPy arrays for `epochs` shuffled passes, drawn once, so
    that two frameworks can be fed exactly the same batches in the same order."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(epochs):
        order = rng.permutation(len(y))
        out += [(x[i], y[i]) for i in np.array_split(order, -(-len(y) // batch_size))]
    return out


def train_steps_torch(model, batches, optimizer):
    """Train on `batches` with cross-entropy, one update each: the loss of every step."""
    model.train()
    cross_entropy, losses = nn.CrossEntropyLoss(), []
    for xb, yb in batches:
        optimizer.zero_grad()
        loss = cross_entropy(model(torch.as_tensor(xb)), torch.as_tensor(yb))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return np.array(losses)


def train_steps_keras(keras_net, batches, optimizer, dense=True):
    """The same loop in Keras (GradientTape, compiled once per batch shape).

    The embedding's gradient comes back as IndexedSlices, one slice per token
    OCCURRENCE; Keras's RMSprop/Adam square those slices before their duplicates
    are summed, so a word seen twice in a batch gets Σg² instead of (Σg)². With
    dense=True the gradient is summed first (what torch computes); dense=False
    keeps Keras's own behaviour.
    """
    import keras
    import tensorflow as tf

    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    weights = keras_net.trainable_variables
    optimizer.build(weights)

    @tf.function(reduce_retracing=True)
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = cross_entropy(yb, keras_net(xb, training=True))
        grads = tape.gradient(loss, weights)
        if dense:
            grads = [tf.convert_to_tensor(g) for g in grads]
        optimizer.apply_gradients(zip(grads, weights))
        return loss

    return np.array([float(step(tf.constant(xb), tf.constant(yb))) for xb, yb in batches])
