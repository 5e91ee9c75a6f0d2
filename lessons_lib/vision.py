"""Image classification (lesson 11): what the lesson measures.

- the data: CIFAR-10 where it can be had without a surprise download, else
  scikit-learn's digits, said so in one printed line (`load_images`);
- the tutorials' small CNN, conv(3×3, pad 1)–BatchNorm–ReLU–max-pool twice
  (32 then 64 channels), dense 512 with dropout 0.25, 10 classes, adapted to
  the image size, in torch (`tutorial_cnn`) and in Keras (`keras_tutorial_cnn`);
- a fair optimizer comparison: the same model, data, epochs and seeds for
  every recipe; mean ± spread of validation accuracy and epochs to a target
  (`compare_recipes`, `summarize`, `plot_bands`);
- augmentation for small images: random shifts with zero padding and, for
  photos, horizontal flips (`augment`, `AugmentedLoader`), and what it does
  on short and long schedules (`augmentation_grid`, `plot_grid`);
- batch norm's scale invariance: the loss does not change when the weights in
  front of a BatchNorm are scaled (`scale_invariance_gap`), so what matters is
  the effective step η/‖w‖²; `conv_weight_norms` measures ‖w‖ per epoch.
"""
from __future__ import annotations

import time

import numpy as np

from . import data as _data
from .table import Table


# ---------------------------------------------------------------- data

def load_images(*, n_train=None, n_test=None, download=False, seed=0, layout="torch"):
    """CIFAR-10 when it is in Keras's cache (or `download=True`, e.g. on Colab),
    else scikit-learn's digits; prints one line saying which and why.

    Without `download` the network is never touched: a missing cache falls back
    to digits at once. With it, `data.cifar10` tries the download and falls back
    to digits on any failure (and says why).
    """
    if not download and _data._cifar10_folder(None) is None:
        print("CIFAR-10 unavailable (not in the Keras cache and download=False); "
              "using the offline digits set (8x8 grey) instead.")
        split = _data.digits(layout=layout, seed=seed)
        return _data._subset_split(split, n_train, n_test, seed,
                                   source="digits (offline fallback for CIFAR-10)")
    return _data.cifar10(n_train=n_train, n_test=n_test, layout=layout, seed=seed)


# ---------------------------------------------------------------- the model

def _flat_size(image_size, channels=64):
    side = image_size // 4                # two 2×2 max-pools
    if side < 1:
        raise ValueError(f"image_size must be at least 4 (two 2x2 pools); got {image_size}")
    return channels * side * side


def tutorial_cnn(in_channels=1, image_size=8, classes=10, *, dropout=0.25, seed=0):
    """The tutorials' CNN for (in_channels, image_size, image_size) images:
    [conv3×3(pad 1)–BatchNorm–ReLU–MaxPool2]×2 (32, 64 channels) → Flatten →
    Linear(512)–ReLU–Dropout → Linear(classes). Built from `seed`."""
    import torch
    from torch import nn

    torch.manual_seed(seed)

    def block(c_in, c_out):
        return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(),
                nn.MaxPool2d(2)]
    model = nn.Sequential(*block(in_channels, 32), *block(32, 64), nn.Flatten(),
                          nn.Linear(_flat_size(image_size), 512), nn.ReLU(),
                          nn.Dropout(dropout), nn.Linear(512, classes))
    # Same values, another layout: with channels-last weights every conv, BatchNorm
    # and max-pool runs channels-last too, the faster kernels on a CPU (max-pool is
    # ~10x faster) and a GPU's tensor cores (`python -m benchmarks bench_cnn_layout`).
    return model.to(memory_format=torch.channels_last)


def keras_tutorial_cnn(in_channels=1, image_size=8, classes=10, *, dropout=0.25, seed=0):
    """The same model in Keras (channels last), returning logits."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((image_size, image_size, in_channels))])
    for channels in (32, 64):
        model.add(layers.Conv2D(channels, 3, padding="same"))
        # torch's BatchNorm defaults: Keras counts momentum the other way round
        model.add(layers.BatchNormalization(momentum=0.9, epsilon=1e-5))
        model.add(layers.ReLU())
        model.add(layers.MaxPooling2D(2))
    model.add(layers.Flatten())
    model.add(layers.Dense(512, activation="relu"))
    model.add(layers.Dropout(dropout))
    model.add(layers.Dense(classes))
    return model


def shape_flow(model, input_shape):
    """The shape of one example after each pooling, Flatten and Linear layer of
    a torch Sequential, as "(1, 8, 8) → pool (32, 4, 4) → ..." (eval mode)."""
    import torch
    from torch import nn

    names = {nn.MaxPool2d: "pool", nn.Flatten: "flatten", nn.Linear: "linear"}
    x, parts = torch.zeros(1, *input_shape), [str(tuple(input_shape))]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for layer in model:
            x = layer(x)
            if type(layer) in names:
                parts.append(f"{names[type(layer)]} {tuple(x.shape[1:])}")
    model.train(was_training)
    return " → ".join(parts)


def parameter_count(model):
    """Trainable parameters of a torch or Keras model."""
    if hasattr(model, "count_params"):
        return int(sum(np.prod(w.shape) for w in model.trainable_weights))
    return int(sum(p.numel() for p in model.parameters() if p.requires_grad))


# ---------------------------------------------------------------- augmentation

def augment(x, rng, *, shift=1, flip=False):
    """Random shifts by up to `shift` pixels (zero padding) and, when `flip`,
    random horizontal flips, on a batch of (N, C, H, W) images (NumPy or torch).
    A new array/tensor; the input is not changed."""
    import torch

    is_tensor = isinstance(x, torch.Tensor)
    images = x.detach().cpu().numpy() if is_tensor else np.asarray(x)
    n, _, h, w = images.shape
    padded = np.pad(images, ((0, 0), (0, 0), (shift, shift), (shift, shift)))
    dy, dx = rng.integers(0, 2 * shift + 1, size=(2, n))
    out = np.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])
    if flip:
        mirrored = rng.random(n) < 0.5
        out[mirrored] = out[mirrored][..., ::-1]
    out = np.ascontiguousarray(out)
    return torch.from_numpy(out).to(x.device) if is_tensor else out


class AugmentedLoader:
    """Wraps a DataLoader: each batch's images go through `augment`, with a
    generator seeded once (so every epoch sees new shifts, reproducibly)."""

    def __init__(self, loader, *, shift=1, flip=False, seed=0):
        self.loader, self.shift, self.flip = loader, shift, flip
        self.rng = np.random.default_rng(seed)

    def __iter__(self):
        for x, y in self.loader:
            yield augment(x, self.rng, shift=self.shift, flip=self.flip), y

    def __len__(self):
        return len(self.loader)


# ---------------------------------------------------------------- the comparison

def epochs_to(values, target):
    """The first epoch (1-based) at which `values` reach `target`; None if never."""
    for epoch, value in enumerate(values, start=1):
        if value >= target:
            return epoch
    return None


def compare_recipes(recipes, build_model, train_loader, val_loader, *, epochs, seeds,
                    loss, models=None, **fit_options):
    """Train every recipe on every seed, all else equal.

    recipes: {name: make(model, steps) -> (optimizer, scheduler or None)},
        `steps` the total number of updates (for the schedules).
    build_model(seed) -> a fresh model; train_loader(seed) -> a fresh
        DataLoader (a reused one would shift its shuffle order between runs).
    Returns {name: [History per seed]}; pass a dict as `models` to also get
    the trained models, {name: [model per seed]}, in it.
    """
    from .harness import torch as harness

    runs = {}
    for name, make in recipes.items():
        runs[name] = []
        for seed in seeds:
            model, batches = build_model(seed), train_loader(seed)
            optimizer, scheduler = make(model, epochs * len(batches))
            runs[name].append(harness.fit(model, batches, loss=loss, optimizer=optimizer,
                                          scheduler=scheduler, epochs=epochs,
                                          val=val_loader, metrics=["accuracy"],
                                          progress=False, seed=seed, **fit_options))
            if models is not None:
                models.setdefault(name, []).append(model)
    return runs


def summarize(runs, *, target, key="val_accuracy"):
    """One row per recipe: final `key` mean ± std over seeds (also min and max),
    epochs to `target` (mean over the seeds that reached it, and how many did),
    and seconds per run."""
    rows = []
    for name, histories in runs.items():
        final = np.array([h[key][-1] for h in histories])
        reached = [epochs_to(h[key], target) for h in histories]
        hit = [e for e in reached if e is not None]
        rows.append({"recipe": name, "val acc mean": float(final.mean()),
                     "± std": float(final.std(ddof=1)) if len(final) > 1 else 0.0,
                     "min": float(final.min()), "max": float(final.max()),
                     f"epochs to {target:.0%}": float(np.mean(hit)) if hit else None,
                     "reached": f"{len(hit)} of {len(histories)}",
                     "s per run": float(np.mean([sum(h["seconds"]) for h in histories]))})
    return Table(rows, title=f"{len(next(iter(runs.values())))} seeds per recipe")


def plot_bands(runs, *, key="val_accuracy", target=None, ax=None, title=None):
    """Mean curve per recipe with a band from the lowest to the highest seed."""
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    else:
        fig = ax.figure
    for name, histories in runs.items():
        values = np.array([h[key] for h in histories], dtype=float)
        epochs = np.arange(1, values.shape[1] + 1)
        line, = ax.plot(epochs, values.mean(axis=0), marker="o", ms=3, label=name)
        ax.fill_between(epochs, values.min(axis=0), values.max(axis=0),
                        color=line.get_color(), alpha=0.2)
    if target is not None:
        ax.axhline(target, color="grey", linestyle=":", label=f"target {target:.0%}")
    ax.set(xlabel="epoch", ylabel=key, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small")
    return fig


def accuracy(model, loader):
    """The fraction of `loader`'s examples a classifier gets right (eval mode)."""
    truth, predicted = predictions(model, loader)
    return float(np.mean(truth == predicted))


def augmentation_grid(recipe, build_model, train_loader, val_loader, *, epochs, seeds,
                      loss, train_eval, shift=1, flip=False, **fit_options):
    """Augmentation off/on × schedule lengths, one recipe, several seeds.

    recipe: make(model, steps) -> (optimizer, scheduler or None); its schedule
        spans each run's own length. epochs: the schedule lengths, e.g. (3, 8).
    train_loader(seed) -> a fresh DataLoader of the training images; with
        augmentation on it is wrapped in `AugmentedLoader(shift, flip, seed)`.
    train_eval: the un-augmented training images (a loader), on which each
        trained model is scored in eval mode, so that "train acc" and "val acc"
        are measured the same way and their difference is the generalisation gap.
    Returns a Table, one row per (augmentation, epochs): final validation
    accuracy mean, ± std, min and max over the seeds, mean train accuracy, the
    mean train − validation gap and seconds per run.
    """
    rows = []
    for augmented in (False, True):
        def batches(seed, augmented=augmented):
            loader = train_loader(seed)
            if augmented:
                return AugmentedLoader(loader, shift=shift, flip=flip, seed=seed)
            return loader
        for length in epochs:
            models = {}
            runs = compare_recipes({"recipe": recipe}, build_model, batches, val_loader,
                                   epochs=length, seeds=seeds, loss=loss, models=models,
                                   **fit_options)["recipe"]
            val = np.array([h["val_accuracy"][-1] for h in runs])
            train = np.array([accuracy(model, train_eval) for model in models["recipe"]])
            rows.append({"augmentation": "on" if augmented else "off", "epochs": length,
                         "val acc mean": float(val.mean()),
                         "± std": float(val.std(ddof=1)) if len(val) > 1 else 0.0,
                         "min": float(val.min()), "max": float(val.max()),
                         "train acc": float(train.mean()),
                         "gap": float(np.mean(train - val)),
                         "s per run": float(np.mean([sum(h["seconds"]) for h in runs]))})
    return Table(rows, title=f"{len(seeds)} seeds per cell; gap = train acc − val acc")


def plot_grid(grid, *, title=None):
    """Two panels from an `augmentation_grid` table against the schedule length:
    validation accuracy (mean, bars from min to max) and the train − val gap."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.2), layout="constrained")
    for setting, marker in (("off", "o"), ("on", "s")):
        rows = [row for row in grid if row["augmentation"] == setting]
        x = np.array([row["epochs"] for row in rows])
        mean = np.array([row["val acc mean"] for row in rows])
        spread = [mean - [row["min"] for row in rows], [row["max"] for row in rows] - mean]
        left.errorbar(x, mean, yerr=spread, marker=marker, capsize=4,
                      label=f"augmentation {setting}")
        right.plot(x, [row["gap"] for row in rows], marker=marker,
                   label=f"augmentation {setting}")
    right.axhline(0, color="grey", lw=1)
    left.set(xlabel="epochs (schedule length)", ylabel="validation accuracy",
             title="validation accuracy (bars: min to max)")
    right.set(xlabel="epochs (schedule length)", ylabel="train acc − val acc",
              title="generalisation gap")
    for ax in (left, right):
        ax.set_xticks(sorted({row["epochs"] for row in grid}))
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------- batch norm

def predictions(model, loader):
    """(true labels, predicted labels) of a classifier in evaluation mode."""
    import torch

    model.eval()
    device = next(model.parameters()).device
    true, pred = [], []
    with torch.no_grad():
        for x, y in loader:
            pred.append(model(x.to(device)).argmax(dim=1).cpu().numpy())
            true.append(np.asarray(y))
    return np.concatenate(true), np.concatenate(pred)


def conv_layers(model):
    """The Conv2d layers of a torch model, in order (each feeds a BatchNorm here)."""
    from torch import nn
    return [m for m in model.modules() if isinstance(m, nn.Conv2d)]


def conv_weight_norm(model):
    """‖W‖₂ over the weights of every Conv2d layer together."""
    import torch
    return float(torch.cat([m.weight.detach().flatten() for m in conv_layers(model)]).norm())


def _callback_base():
    from .harness.callbacks import Callback
    return Callback


class WeightNormLogger(_callback_base()):
    """A harness callback: the conv layers' weight norm at the start and after
    every epoch (`norms`, length epochs + 1)."""

    def __init__(self, model):
        self.model, self.norms = model, []

    def on_train_begin(self, state):
        self.norms.append(conv_weight_norm(self.model))

    def on_epoch_end(self, state, row):
        self.norms.append(conv_weight_norm(self.model))
        return False


def scale_invariance_gap(model, x, y, loss, *, factor=10.0):
    """Train-mode loss and its gradient w.r.t. the first conv's weight, before
    and after that weight (and bias) is multiplied by `factor`.

    BatchNorm right after the conv removes the scale: the loss is the same and
    the gradient is `factor` times smaller. Returns a dict; the model is left
    unchanged.
    """
    import torch

    conv = conv_layers(model)[0]
    was_training = model.training
    model.train()
    saved = {k: v.clone() for k, v in model.state_dict().items()}

    def measure():
        model.zero_grad()
        value = loss(model(x), y)
        value.backward()
        return value.item(), conv.weight.grad.detach().norm().item()

    try:
        torch.manual_seed(0)                  # the same dropout mask both times
        before, grad_before = measure()
        model.load_state_dict(saved)
        with torch.no_grad():
            conv.weight.mul_(factor)
            conv.bias.mul_(factor)
        torch.manual_seed(0)
        after, grad_after = measure()
    finally:
        model.load_state_dict(saved)
        model.zero_grad()
        model.train(was_training)
    return {"loss": before, "loss scaled": after, "grad norm": grad_before,
            "grad norm scaled": grad_after}


def effective_lr(lr, norms):
    """η/‖w‖² per epoch: the step a scale-invariant layer really takes."""
    return lr / np.square(np.asarray(norms, dtype=float))


def timed(function, *args, **kwargs):
    """(result, seconds) of one call."""
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return result, time.perf_counter() - start
