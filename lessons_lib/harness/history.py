"""What a training run leaves behind: one row per epoch, shared by both harnesses."""
from __future__ import annotations

import math

# Keys every row may carry that are not metrics (metrics go in their own panel).
BOOKKEEPING = ("epoch", "lr", "seconds")
LOSSES = ("train_loss", "val_loss")
# Metrics where larger is better; everything else (losses, errors) is minimised.
_HIGHER_IS_BETTER = ("acc", "auc", "f1", "precision", "recall")


def higher_is_better(key: str) -> bool:
    """Whether larger values of `key` are better ("val_accuracy": yes, "val_loss": no)."""
    name = key.removeprefix("val_").lower()
    return any(word in name for word in _HIGHER_IS_BETTER)


class History:
    """Per-epoch results of `fit`.

    `rows` is a list of dicts, one per epoch: `epoch` (1-based), `train_loss`,
    `val_loss` (when there was validation data), `lr` (the learning rate in
    effect at the end of the epoch), `seconds`, and each metric (`accuracy`,
    `val_accuracy`, ...).
    """

    def __init__(self, rows=()):
        self.rows = [dict(row) for row in rows]

    def append(self, row: dict) -> None:
        self.rows.append(dict(row))

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        """`history["val_loss"]` is that column as a list; `history[-1]` a row."""
        if isinstance(key, str):
            return self.column(key)
        return self.rows[key]

    @property
    def columns(self) -> list[str]:
        """Every key that appears in some row, in first-seen order."""
        seen = {}
        for row in self.rows:
            seen.update(dict.fromkeys(row))
        return list(seen)

    def column(self, key: str) -> list:
        if key not in self.columns:
            raise KeyError(f"no {key!r} in this history; it has {self.columns}")
        return [row.get(key) for row in self.rows]

    def best(self, key: str = "val_loss") -> dict:
        """The row with the best `key` (largest for accuracy-like metrics,
        smallest for losses); NaN values never win."""
        values = [(value, row) for value, row in zip(self.column(key), self.rows)
                  if value is not None and not math.isnan(value)]
        if not values:
            raise ValueError(f"no finite {key!r} value in this history")
        pick = max if higher_is_better(key) else min
        return pick(values, key=lambda pair: pair[0])[1]

    def __repr__(self):
        if not self.rows:
            return "History(no epochs)"
        keys = self.columns
        lines = ["  ".join(f"{k:>12}" for k in keys)]
        for row in self.rows:
            lines.append("  ".join(_cell(row.get(k)) for k in keys))
        return "\n".join(lines)

    def plot(self, title: str | None = None):
        """Loss curves (log scale when every loss is positive) and, in a second
        panel, the metrics. Returns a matplotlib Figure; nothing is shown."""
        # A bare Figure (not pyplot) keeps no global state, so a notebook shows
        # it once, as the cell's value, and tests need not close it.
        from matplotlib.figure import Figure

        metrics = [k for k in self.columns if k not in BOOKKEEPING + LOSSES]
        fig = Figure(figsize=(10 if metrics else 5.5, 3.8), layout="constrained")
        axes = fig.subplots(1, 2 if metrics else 1, squeeze=False)[0]
        self._plot_columns(axes[0], [k for k in LOSSES if k in self.columns], "loss")
        if all(v > 0 for k in LOSSES if k in self.columns for v in self.column(k)
               if v is not None and math.isfinite(v)):
            axes[0].set_yscale("log")
        if metrics:
            self._plot_columns(axes[1], metrics, "metric")
        if title:
            fig.suptitle(title)
        return fig

    def _plot_columns(self, ax, keys, ylabel):
        for key in keys:
            ax.plot(self.column("epoch"), self.column(key), marker="o", markersize=3, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if keys:
            ax.legend()


def _cell(value):
    if isinstance(value, float):
        return f"{value:>12.4g}"
    return f"{'' if value is None else value!s:>12}"
