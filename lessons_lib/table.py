r"""`Table`: how every measurement of the course is shown, plotted and asserted.

A `Table` is a list of row dicts. In Jupyter it shows as a markdown table (numbers
to 3 significant digits, None as "—", booleans as yes/no); `assert` cells read it
with `table.column(key)` and `table.row(key=value)`, so a claim on a slide is
checked against the measurement, not pasted in.
"""
import math
import numbers

import numpy as np


def _cell(value):
    return _format(value).replace("|", "\\|")  # a bare | would split a markdown cell


def _format(value):
    if value is None:
        return "—"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        value = float(value)
        if value == 0:
            return "0"
        if math.isinf(value) or math.isnan(value):
            return str(value)
        return f"{value:.3g}" if 1e-3 <= abs(value) < 1e5 else f"{value:.2e}"
    if isinstance(value, (tuple, list, np.ndarray)):
        return "(" + ", ".join(_format(v) for v in np.ravel(value)) + ")"
    return str(value)


def markdown_table(rows, headers=None):
    """Rows (dicts with the same keys) as a GitHub-flavoured markdown table.

    `headers` maps a key to its column title (default: the key). Numbers get 3
    significant digits, None shows as "—", booleans as yes/no.
    """
    rows = list(rows)
    if not rows:
        raise ValueError("rows must hold at least one row (a dict); got none")
    keys = list(rows[0])
    headers = headers or {}
    titles = [_cell(headers.get(k, k)) for k in keys]
    lines = ["| " + " | ".join(titles) + " |", "|" + "|".join("---" for _ in keys) + "|"]
    lines += ["| " + " | ".join(_cell(row.get(k)) for k in keys) + " |" for row in rows]
    return "\n".join(lines)


def _plain_table(rows, headers):
    keys = list(rows[0])
    grid = [[str(headers.get(k, k)) for k in keys]] + [[_format(r.get(k)) for k in keys] for r in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(keys))]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(line, widths)) for line in grid)


class Table(list):
    """A measured result: a list of row dicts, shown in Jupyter as a markdown table.

    `table.column(key)` is a NumPy array of one column (None becomes NaN for
    numeric columns); `table.row(key=value)` is the first row with that value;
    `table.select(*keys)` keeps some columns; `table.plot(x, ys)` draws columns
    against one another on log axes.
    """

    def __init__(self, rows, headers=None, title=None):
        super().__init__(rows)
        if not self:
            raise ValueError("a Table needs at least one row; got none")
        self.headers = dict(headers or {})
        self.title = title

    def column(self, key):
        if key not in self[0]:
            raise ValueError(f"no column {key!r}; columns: {', '.join(self[0])}")
        values = [row[key] for row in self]
        if all(v is None or isinstance(v, numbers.Real) for v in values):
            return np.array([np.nan if v is None else v for v in values], dtype=float)
        return np.array(values, dtype=object)

    def select(self, *keys):
        """A Table with only these columns, in this order (to fit a slide)."""
        missing = [k for k in keys if k not in self[0]]
        if missing or not keys:
            raise ValueError(f"select needs existing columns; unknown: {missing or 'none given'}; "
                             f"columns: {', '.join(self[0])}")
        return Table([{k: row[k] for k in keys} for row in self], self.headers, self.title)

    def row(self, **match):
        """The first row whose values equal `match` (floats compared to round-off)."""
        for row in self:
            if all(_same(row.get(k), v) for k, v in match.items()):
                return row
        raise ValueError(f"no row with {match}; rows have {', '.join(self[0])}")

    def to_markdown(self):
        text = markdown_table(self, self.headers)
        return f"**{self.title}**\n\n{text}" if self.title else text

    def __str__(self):
        text = _plain_table(self, self.headers)
        return f"{self.title}\n{text}" if self.title else text

    __repr__ = __str__

    def _repr_markdown_(self):
        return self.to_markdown()

    def plot(self, x, ys, *, logx=True, logy=True, ax=None, title=None, ylabel=None, label=None,
             marker="o"):
        """Columns `ys` (a key or a list of keys) against column `x`; returns the Figure.

        Several columns share the axes, so put columns of the same unit together
        (or pass `ax` to draw each into its own panel). `label` names the line
        when one column is drawn (to compare several tables on one `ax`).
        """
        import matplotlib.pyplot as plt
        ys = [ys] if isinstance(ys, str) else list(ys)
        if ax is None:
            fig, ax = plt.subplots(layout="constrained")
        xs = self.column(x)
        for key in ys:
            name = label if label is not None and len(ys) == 1 else self.headers.get(key, key)
            ax.plot(xs, self.column(key), marker=marker, ms=4, label=name)
        if logx:
            ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel(self.headers.get(x, x))
        ax.set_ylabel(ylabel or (self.headers.get(ys[0], ys[0]) if len(ys) == 1 else "value"))
        if len(ys) > 1 or label is not None:
            ax.legend(fontsize="small")
        if title or self.title:
            ax.set_title(title or self.title, fontsize="medium")
        ax.grid(True, which="major", alpha=0.3)
        return ax.figure


def _same(a, b):
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)
    return a == b
