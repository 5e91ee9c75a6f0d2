r"""Measured experiments behind the lessons: every number a lesson quotes comes from here.

Each function runs a small, seeded experiment and returns a `Table` (a list of
row dicts that a notebook shows as a markdown table and that `assert` cells
read with `table.column(...)` / `table.row(...)`), so a claim on a slide is
checked against a measurement, not pasted in.

Gradient descent on quadratics (lesson 02)::

    critical_learning_rates(f)      1/L, 2/(λmin + λmax), 2/L
    contraction(f, lr)              max_i |1 − η λ_i|, GD's rate per step
    predicted_steps(f, x0, lr, tol) steps to tolerance from the eigen-decomposition
    lr_table(f, x0, lrs, tol=...)   learning rate -> steps to tolerance, measured
    where_descent_ends(f, starts)   which minimum each start falls into
    hessian(f, x), classify_point(f, x)
    saddle_escape(f, optimizers, x0, noise=...)   steps to leave a saddle
    descent(f, x0, steps, direction="newton")     Newton, Jacobi, Armijo line search
    gradient_norms_through_depth(depth, "tanh")   vanishing gradients, per layer

Stochastic and mini-batch gradient descent on least squares (lesson 03)::

    least_squares_sgd(x, y, batch_size=..., lr=..., epochs=...)  -> Run
    gradient_spread(x, y, theta, batch_sizes)   E‖g_B − g‖² against σ²/B
    minibatch_runs(x, y, batch_sizes, lr=..., target=...)
    noise_ball(x, y, lrs, ...)       against stationary_excess (the theory)
    lr_per_batch_size(x, y, batch_sizes, lrs, target=...)   η tuned per B

(the model, θ = (w, b) and L(θ) = (1/n)‖Zθ − y‖², are lesson 01's `lessons_lib.linear`)
"""
import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from .checks import check_int, check_range

# ---------------------------------------------------------------- argument checks


def _check_number(name, value, low=-math.inf, high=math.inf, **open_ends):
    return check_range(None, name, value, low, high, **open_ends)


def _check_int(name, value, low=1):
    return check_int(None, name, value, low)


def _check_sizes(name, values, high):
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one batch size; got {values!r}")
    for b in values:
        if isinstance(b, bool) or not isinstance(b, numbers.Integral) or not 1 <= b <= high:
            raise ValueError(f"{name} contains {b!r}, which is out of range; valid: integers "
                             f"in [1, {high}] (1 = stochastic, {high} = the whole training set)")
    return [int(b) for b in values]


def _quadratic(f, function):
    if not hasattr(f, "eigenvalues") or not hasattr(f, "A"):
        raise ValueError(f"{function}: f must be a landscapes.Quadratic (its Hessian is needed); "
                         f"got {getattr(f, 'name', f)!r}")
    if f.eigenvalues[0] <= 0:
        raise ValueError(f"{function}: f must be positive definite (all Hessian eigenvalues > 0) "
                         f"to have a minimum; got eigenvalues {f.eigenvalues.tolist()}")
    return f


# ---------------------------------------------------------------- tables


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


# ---------------------------------------------------------------- GD on quadratics: theory


def critical_learning_rates(f):
    r"""The three step sizes that matter for gradient descent on a quadratic.

    With Hessian eigenvalues $0 < λ_{min} ≤ … ≤ λ_{max} = L$, GD multiplies the
    error along eigenvector $i$ by $1 − ηλ_i$ each step, so:

    * ``"1/L"``: the largest step that never overshoots along any direction;
    * ``"optimal"`` $= 2/(λ_{min}+λ_{max})$: the fastest uniform rate,
      $(κ−1)/(κ+1)$ with $κ = L/λ_{min}$;
    * ``"2/L"``: beyond it the steepest direction grows: divergence.
    """
    f = _quadratic(f, "critical_learning_rates")
    lo, hi = float(f.eigenvalues[0]), float(f.eigenvalues[-1])
    return {"1/L": 1 / hi, "optimal": 2 / (lo + hi), "2/L": 2 / hi}


def contraction(f, lr):
    r"""GD's worst-case rate per step on a quadratic: $\max_i |1 − ηλ_i|$.

    Below 1 the error shrinks geometrically by at least this factor per step
    (and exactly so along the slowest direction); above 1 it grows.
    """
    f = _quadratic(f, "contraction")
    lr = _check_number("lr", lr, 0, low_open=True)
    return float(np.max(np.abs(1 - lr * f.eigenvalues)))


def predicted_steps(f, x0, lr, tol, max_steps=10_000):
    r"""Steps GD needs on a quadratic until $f(x_k) − f^* ≤ tol$, from theory alone.

    In the eigenbasis $Q$ of the Hessian, with $e = Q^\top(x_0 − x^*)$,
    $f(x_k) − f^* = \tfrac12 \sum_i λ_i (1 − ηλ_i)^{2k} e_i^2$: no iteration of GD is
    needed, only this sum. Returns the first such k ≤ max_steps, or None.
    """
    f = _quadratic(f, "predicted_steps")
    lr = _check_number("lr", lr, 0, low_open=True)
    tol = _check_number("tol", tol, 0, low_open=True)
    max_steps = _check_int("max_steps", max_steps, 0)
    x0 = np.asarray(x0, dtype=float)
    lam, Q = np.linalg.eigh(f.A)
    e = Q.T @ (x0 - f.minima[0])
    k = np.arange(max_steps + 1)[:, None]
    with np.errstate(under="ignore", over="ignore", invalid="ignore"):
        # (1 − ηλ)^(2k): 0 after one step where ηλ = 1, inf where it grows past float64
        terms = 0.5 * lam * e**2 * np.power((1 - lr * lam) ** 2, k)
    excess = terms.sum(axis=1)
    reached = np.flatnonzero(excess <= tol)
    return int(reached[0]) if reached.size else None


# ---------------------------------------------------------------- GD: measured


def _error_norms(path, f):
    target = min(f.minima, key=lambda m: np.linalg.norm(path[0] - m)) if f.minima else None
    if target is None:
        raise ValueError(f"{getattr(f, 'name', f)!r} has no known minimum to measure the error from")
    return np.linalg.norm(path - target, axis=1)


def _measured_rate(errors, stop):
    """(e_stop / e_{stop−m})^(1/m) over the last tenth of the run: the asymptotic rate."""
    finite = errors[: stop + 1]
    nonzero = np.flatnonzero(finite > 0)
    if stop == 0 or nonzero.size == 0 or nonzero[0] != 0:
        return None
    last = min(stop, int(nonzero[-1]))
    if last < stop:  # the error became exactly 0: faster than any geometric rate
        return 0.0
    m = max(1, last // 10)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        rate = (finite[last] / finite[last - m]) ** (1 / m)
    return float(rate) if np.isfinite(rate) else None


def _behaviour(path, f, reached):
    values = np.array([f.value(x) for x in path])
    best = min(f.value(m) for m in f.minima)
    if len(path) < 2:
        return "converges" if reached is not None else "crawls"
    end = reached if reached is not None else len(path) - 1
    steps = np.diff(path[: end + 1], axis=0)
    reversals = np.sum(steps[1:] * steps[:-1], axis=1) < 0 if len(steps) > 1 else np.zeros(0, bool)
    zigzag = reversals.size > 0 and reversals.mean() >= 0.5
    if not np.all(np.isfinite(values)) or values[-1] - best > (values[0] - best) * (1 + 1e-9):
        return "diverges"
    if reached is not None:
        return "zig-zags in" if zigzag else "converges"
    return "bounces forever" if zigzag else "crawls"


def lr_table(f, x0, lrs, *, tol=1e-6, max_steps=1000, optimizer="sgd", **hparams):
    r"""Learning rate -> steps to reach $f − f^* ≤ tol$, measured by running the optimizer.

    For each η in `lrs`, runs `optim.REGISTRY[optimizer](lr=η, **hparams)` from
    `x0` for `max_steps` steps (a run that diverges keeps its finite part) and
    records, per row:

    * ``steps``: the first step from which $f(x_k) − f^* ≤ tol$ holds to the end
      (`optim.steps_to_tolerance`; None: not within max_steps);
    * ``behaviour``: "converges" (monotonely), "zig-zags in" (most steps reverse
      the previous one, yet it converges), "crawls" (not reached, still falling),
      "bounces forever" (not reached, reversing), or "diverges" (f grew);
    * ``rate``: the measured factor by which ‖x_k − x*‖ shrinks per step near the
      end, $(e_K/e_{K−m})^{1/m}$ over the last tenth of the run (0: reached x* exactly).

    On a `landscapes.Quadratic` with plain GD, the theory columns sit beside them:
    ``lr_L`` = ηL, ``rate_theory`` = max |1 − ηλ|, ``steps_theory`` (see
    `predicted_steps`), so the lesson can assert that measurement and formula agree.
    """
    from . import optim
    if optimizer not in optim.REGISTRY:
        raise ValueError(f"optimizer={optimizer!r} is not known; valid: {', '.join(optim.REGISTRY)}")
    tol = _check_number("tol", tol, 0, low_open=True)
    max_steps = _check_int("max_steps", max_steps, 1)
    lrs = list(lrs)
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate; got none")
    theory = hasattr(f, "eigenvalues") and f.eigenvalues[0] > 0 and optimizer == "sgd" and not hparams
    rows = []
    for lr in lrs:
        lr = _check_number("lr", lr, 0, low_open=True)
        path, reached = optim.race({lr: optim.REGISTRY[optimizer](lr=lr, **hparams)}, f, x0,
                                   max_steps, tol)[lr]
        errors = _error_norms(path, f)
        row = {"lr": lr}
        if theory:
            row["lr_L"] = lr * f.L
        row.update(steps=reached, behaviour=_behaviour(path, f, reached),
                   rate=_measured_rate(errors, reached if reached is not None else len(path) - 1))
        if theory:
            row.update(rate_theory=contraction(f, lr),
                       steps_theory=predicted_steps(f, x0, lr, tol, max_steps))
        rows.append(row)
    headers = {"lr": "η", "lr_L": "η·L", "steps": f"steps to f−f*≤{tol:g}", "behaviour": "behaviour",
               "rate": "rate (measured)", "rate_theory": "max|1−ηλ| (theory)",
               "steps_theory": "steps (theory)"}
    start = list(map(float, x0))
    return Table(rows, headers, title=f"gradient descent on {getattr(f, 'name', 'f')} from {start}")


def nearest_minimum(f, x):
    """Index into `f.minima` of the minimum closest to `x`, and the distance to it."""
    distances = [float(np.linalg.norm(np.asarray(x, dtype=float) - m)) for m in f.minima]
    if not distances:
        raise ValueError(f"{getattr(f, 'name', f)!r} has no known minima")
    i = int(np.argmin(distances))
    return i, distances[i]


def where_descent_ends(f, starts, *, lr, steps, optimizer="sgd", **hparams):
    """Run the optimizer from each start; report where it stops and what it found there.

    Rows: ``start``, ``end`` (rounded to 3 decimals), ``value`` f(end), ``grad_norm``
    ‖∇f(end)‖, ``minimum`` (index into `f.minima` of the nearest known minimum, or
    None when the end is farther than 0.1 from every one of them: a local minimum
    the landscape does not list, or no minimum at all) and ``global`` (whether
    f(end) is within 1e-6 of the lowest listed minimum's value).
    The trajectories are kept in `table.paths` for plotting.
    """
    from . import optim
    if optimizer not in optim.REGISTRY:
        raise ValueError(f"optimizer={optimizer!r} is not known; valid: {', '.join(optim.REGISTRY)}")
    starts = np.atleast_2d(np.asarray(starts, dtype=float))
    steps = _check_int("steps", steps, 1)
    best = min(f.value(m) for m in f.minima) if f.minima else None
    rows, paths = [], {}
    for start in starts:
        path = optim.minimize(optim.REGISTRY[optimizer](lr=lr, **hparams), f, start, steps)
        end = path[-1]
        i, distance = nearest_minimum(f, end) if f.minima else (None, math.inf)
        value = f.value(end)
        rows.append({"start": tuple(start.tolist()), "end": tuple(np.round(end, 3).tolist()),
                     "value": value, "grad_norm": float(np.linalg.norm(f.grad(end))),
                     "minimum": i if distance <= 0.1 else None,
                     "global": best is not None and value - best <= 1e-6})
        paths[f"start {_format(tuple(start))}"] = path
    table = Table(rows, {"grad_norm": "‖∇f(end)‖", "minimum": "nearest listed minimum",
                         "global": "global minimum?"})
    table.paths = paths
    return table


def hessian(f, x, h=1e-5):
    r"""The Hessian of `f` at `x` by central differences of its analytic gradient.

    $H_{:,j} ≈ (∇f(x + h e_j) − ∇f(x − h e_j)) / 2h$, symmetrised; the error is
    O(h²) (exact for a quadratic up to round-off).
    """
    x = np.asarray(x, dtype=float)
    h = _check_number("h", h, 0, low_open=True)
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step[j] = h
        columns.append((f.grad(x + step) - f.grad(x - step)) / (2 * h))
    H = np.column_stack(columns)
    return (H + H.T) / 2


def classify_point(f, x, *, grad_tol=1e-6, h=1e-5):
    """What kind of point x is, from the gradient and the Hessian's eigenvalues.

    "not critical" when ‖∇f(x)‖ > grad_tol; otherwise "minimum" (all eigenvalues
    > 0), "maximum" (all < 0), "saddle" (both signs) or "degenerate" (some
    eigenvalue ≈ 0: the second derivative cannot tell). A zero gradient alone is
    NOT a minimum: it only says the point is critical.
    """
    grad_tol = _check_number("grad_tol", grad_tol, 0)
    if np.linalg.norm(f.grad(np.asarray(x, dtype=float))) > grad_tol:
        return "not critical"
    lam = np.linalg.eigvalsh(hessian(f, x, h))
    scale = max(1.0, float(np.max(np.abs(lam))))
    if np.any(np.abs(lam) <= 1e-6 * scale):
        return "degenerate"
    if np.all(lam > 0):
        return "minimum"
    if np.all(lam < 0):
        return "maximum"
    return "saddle"


def saddle_escape(f, optimizers, x0, *, noise=(0.0,), steps=1000, drop=0.5, seed=0):
    r"""Steps each optimizer needs to leave a saddle, with and without gradient noise.

    Every run starts at `x0` (put it on the saddle's stable manifold, where the
    exact gradient has no component that points away) and sees the gradient
    $\nabla f(x) + σξ$, $ξ \sim N(0, I)$, the same noise draws for every
    optimizer (seeded by `seed`): σ = 0 is plain exact-gradient descent. A run
    has escaped at the first step where $f(x_k) < f(s) − $ `drop`, s the
    saddle point nearest x0. Rows per (optimizer, σ): ``escape`` (steps, None
    if it never does in `steps`) and ``value`` (f at the end). `optimizers`
    maps a label to a `lessons_lib.optim` optimizer; the paths are kept in
    `table.paths` ("label, σ = …" -> array).
    """
    steps = _check_int("steps", steps)
    drop = _check_number("drop", drop, 0, low_open=True)
    sigmas = [_check_number("noise", s, 0) for s in noise]
    x0 = np.asarray(x0, dtype=float)
    if not f.saddle_points:
        raise ValueError(f"saddle_escape: {getattr(f, 'name', f)!r} lists no saddle point")
    saddle = min(f.saddle_points, key=lambda p: np.linalg.norm(p - x0))
    level = f.value(saddle) - drop
    rows, paths = [], {}
    for sigma in sigmas:
        for label, opt in optimizers.items():
            rng = np.random.default_rng(seed)          # the same noise for every optimizer
            x, state, path = x0.copy(), opt.init(x0), [x0.copy()]
            for _ in range(steps):
                g = f.grad(x) + sigma * rng.standard_normal(x.shape)
                x, state = opt.update(x, g, state, lr=opt.lr)
                path.append(x)
            path = np.array(path)
            below = np.flatnonzero(f.value(path.T) < level)
            rows.append({"optimizer": label, "noise": sigma,
                         "escape": int(below[0]) if below.size else None,
                         "value": float(f.value(path[-1]))})
            paths[f"{label}, σ = {sigma:g}"] = path
    table = Table(rows, {"optimizer": "optimizer", "noise": "gradient noise σ",
                         "escape": f"steps to f < f(saddle) − {drop:g}", "value": "f at the end"},
                  title=f"escaping the saddle at {tuple(saddle.tolist())} from {tuple(x0.tolist())}")
    table.paths = paths
    return table


_DIRECTIONS = ("gradient", "diagonal", "newton")


def descent(f, x0, steps, *, direction="newton", line_search=True, lr=1.0, c=1e-4, shrink=0.5):
    r"""Descent with a preconditioned direction and, optionally, a backtracking line search.

    Direction $d = −P^{-1}\nabla f(x)$ with $P = I$ (``"gradient"``: gradient
    descent), $P = \operatorname{diag}(\nabla^2 f)$ (``"diagonal"``: Jacobi, one
    step size per coordinate, what adaptive methods estimate cheaply) or
    $P = \nabla^2 f(x)$ (``"newton"``: it jumps to the minimum of the local
    quadratic model, so one step solves a quadratic). Where the preconditioned
    direction does not point downhill ($\nabla f^\top d ≥ 0$, e.g. a Hessian that
    is not positive definite) it falls back to $−\nabla f$.

    Step $x ← x + t\,d$: $t$ = `lr`, or with `line_search` Armijo backtracking:
    start at $t$ = `lr` and multiply by `shrink` until
    $f(x + t d) ≤ f(x) + c\,t\,\nabla f^\top d$ (sufficient decrease). The
    Hessian is `hessian(f, x)` (central differences; exact for a quadratic).
    Returns the path, shape (k + 1, dim); it stops early once ∇f is exactly 0.
    """
    if direction not in _DIRECTIONS:
        raise ValueError(f"direction={direction!r} is not known; valid: {', '.join(_DIRECTIONS)}")
    steps = _check_int("steps", steps, 0)
    lr = _check_number("lr", lr, 0, low_open=True)
    c = _check_number("c", c, 0, 1, low_open=True, high_open=True)
    shrink = _check_number("shrink", shrink, 0, 1, low_open=True, high_open=True)
    x = np.asarray(x0, dtype=float).copy()
    path = [x.copy()]
    for _ in range(steps):
        g = f.grad(x)
        if not np.any(g):
            break
        d = -g
        if direction != "gradient":
            H = hessian(f, x)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = -np.linalg.solve(H, g) if direction == "newton" else -g / np.diag(H)
            if not np.all(np.isfinite(d)) or g @ d >= 0:
                d = -g
        t, fx = lr, f.value(x)
        if line_search:
            for _ in range(60):
                if f.value(x + t * d) <= fx + c * t * (g @ d):
                    break
                t *= shrink
        x = x + t * d
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"descent diverged at step {len(path)} (direction={direction!r}, "
                                     f"lr={lr:g}); use line_search=True or a smaller lr")
        path.append(x.copy())
    return np.array(path)


def descent_table(f, x0, *, lr, tol=1e-10, steps=20_000):
    """Steps to f − f* ≤ tol (and staying there) for gradient descent, Jacobi and Newton.

    Rows: GD with the fixed step `lr` ("gradient descent (fixed η)"); GD, diagonal (Jacobi) and Newton with
    Armijo backtracking (`descent`, starting each search at t = 1); pure Newton
    (t = 1, no search). ``steps`` is None when the tolerance is not reached. The
    paths are kept in `table.paths` (method -> array).
    """
    from .optim.minimize import steps_to_tolerance
    methods = {"gradient descent (fixed η)": dict(direction="gradient", line_search=False, lr=lr),
               "gradient descent + Armijo": dict(direction="gradient"),
               "diagonal (Jacobi) + Armijo": dict(direction="diagonal"),
               "Newton + Armijo": dict(direction="newton"),
               "Newton (t = 1, no search)": dict(direction="newton", line_search=False)}
    rows, paths = [], {}
    for label, options in methods.items():
        path = descent(f, x0, steps, **options)
        paths[label] = path
        rows.append({"method": label, "steps": steps_to_tolerance(path, f, tol)})
    table = Table(rows, {"method": "method", "steps": f"steps to f − f* ≤ {tol:g}"},
                  title=f"{getattr(f, 'name', f)} from {tuple(np.asarray(x0, float).tolist())}, "
                        f"fixed η = {lr:g}")
    table.paths = paths
    return table


# ---------------------------------------------------------------- vanishing gradients

_ACTIVATIONS = ("tanh", "sigmoid", "relu", "linear")


def gradient_norms_through_depth(depth, activation="tanh", *, width=64, batch=128, gain=1.0,
                                 init="normal", input_scale=1.0, seed=0, device="cpu"):
    r"""Backpropagated gradient norms, layer by layer, in a deep fully connected chain.

    $h_0 = x$, $h_l = φ(W_l h_{l−1})$ for l = 1 … depth (no biases), and a fixed
    random linear read-out $\mathcal L = \frac1B \sum_{b} r_b^\top h_{depth,b}$,
    $r_b \sim N(0, I)$, so the gradient entering the top layer has the same size
    at any depth and every change below it is backpropagation's. By the chain rule
    $∂\mathcal L/∂h_{l−1} = W_l^\top (φ'(W_l h_{l−1}) ⊙ ∂\mathcal L/∂h_l)$: each layer
    multiplies the signal by its weights and by φ' ≤ 1 (tanh), ≤ ¼ (sigmoid),
    so with weights too small to compensate it shrinks geometrically.

    Weights: ``init="normal"``: N(0, gain²/width); ``"orthogonal"``: gain × a
    random orthogonal matrix (norm-preserving, so a linear chain scales every
    signal by exactly gain per layer). Inputs x ~ N(0, input_scale²). Drawn
    with NumPy from `seed`, computed with torch autograd in float64 on `device`
    ("auto": the GPU when present), so every device gives the same numbers up to round-off.

    Rows per layer l = 1 … depth (1 = next to the input): ``weight_grad``
    ‖∂L/∂W_l‖_F, ``signal_grad`` ‖∂L/∂h_{l−1}‖_F (the gradient arriving at the
    layer's input) and ``activation_std`` std(h_l).
    """
    import torch
    depth = _check_int("depth", depth)
    width = _check_int("width", width)
    batch = _check_int("batch", batch)
    gain = _check_number("gain", gain, 0, low_open=True)
    input_scale = _check_number("input_scale", input_scale, 0, low_open=True)
    if activation not in _ACTIVATIONS:
        raise ValueError(f"activation={activation!r} is not known; valid: {', '.join(_ACTIVATIONS)}")
    if init not in ("normal", "orthogonal"):
        raise ValueError(f"init={init!r} is not known; valid: 'normal', 'orthogonal'")
    from .devices import pick_device
    device = pick_device(device)
    rng = np.random.default_rng(seed)
    if init == "normal":
        weights = [rng.normal(0, gain / math.sqrt(width), (width, width)) for _ in range(depth)]
    else:
        weights = [gain * np.linalg.qr(rng.normal(size=(width, width)))[0] for _ in range(depth)]
    x = rng.normal(0, input_scale, (batch, width))
    phi = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "relu": torch.relu,
           "linear": lambda z: z}[activation]
    Ws = [torch.tensor(w, dtype=torch.float64, device=device, requires_grad=True) for w in weights]
    h = torch.tensor(x, dtype=torch.float64, device=device, requires_grad=True)
    inputs, outputs = [], []
    for W in Ws:
        h.retain_grad()  # keep ∂L/∂h for the layer inputs too, not only for the leaves
        inputs.append(h)
        h = phi(h @ W.T)
        outputs.append(h)
    readout = torch.tensor(rng.normal(size=(batch, width)), dtype=torch.float64, device=device)
    loss = (h * readout).sum() / batch
    loss.backward()
    rows = [{"layer": l + 1, "weight_grad": float(W.grad.norm()), "signal_grad": float(hin.grad.norm()),
             "activation_std": float(hout.detach().std())}
            for l, (W, hin, hout) in enumerate(zip(Ws, inputs, outputs))]
    return Table(rows, {"weight_grad": "‖∂L/∂W_l‖", "signal_grad": "‖∂L/∂h_(l−1)‖",
                        "activation_std": "std(h_l)"},
                 title=f"{activation}, depth {depth}, width {width}, {init} init, gain {gain:g}")


# ---------------------------------------------------------------- least squares with (S)GD
#
# The model and conventions are lesson 01's (`lessons_lib.linear`): features x of
# shape (n, d), parameters θ = (w_1, …, w_d, b) with the bias last, the design
# matrix Z = [x, 1] and the loss L(θ) = (1/n)‖Zθ − y‖².


def _design(x, y):
    from . import linear
    x, y = linear.checked_data(x, y)
    return linear.design_matrix(x), y


def _loss(Z, y, theta):
    r = Z @ theta - y
    return float(r @ r) / len(r)


@dataclass
class Run:
    """One run of mini-batch SGD on least squares, recorded after every update.

    `losses[k]` is the full training loss after k updates (k = 0: the start),
    `seconds[k]` the training time spent on the first k updates (the loss
    evaluations for this record are not counted), `samples[k]` the number of
    training rows the first k updates read, `lrs[k]` the step size of update
    k + 1, and `theta` the final parameters (w, b).
    """

    batch_size: int
    n: int
    losses: np.ndarray
    seconds: np.ndarray
    samples: np.ndarray
    lrs: np.ndarray
    theta: np.ndarray = field(repr=False)
    drop_last: bool = False

    @property
    def epochs(self):
        """Passes over the training set after each update (samples / n)."""
        return self.samples / self.n

    @property
    def updates_per_epoch(self):
        return self.n // self.batch_size if self.drop_last else math.ceil(self.n / self.batch_size)

    def updates_to(self, target):
        """First update count k with losses[k] ≤ target, or None."""
        hit = np.flatnonzero(self.losses <= target)
        return int(hit[0]) if hit.size else None

    def epoch_losses(self):
        """The loss at the end of every epoch (index 0: the start)."""
        return self.losses[:: self.updates_per_epoch]

    def last_epoch(self):
        """The losses recorded during the last epoch (at least three)."""
        return self.losses[-max(3, self.updates_per_epoch + 1):]

    def noise(self):
        """How much the loss jitters from update to update over the last epoch: std(ΔL)/√2.

        For independent fluctuations around a level this is their standard
        deviation; a smooth descent (batch GD) adds almost nothing, because
        its steps ΔL are all about the same.
        """
        return float(np.std(np.diff(self.last_epoch())) / math.sqrt(2))


def least_squares_sgd(x, y, *, batch_size, lr=None, epochs=10, seed=0, theta0=None, schedule=None,
                      stop_below=None, replace=False, drop_last=False):
    r"""Mini-batch SGD on the mean squared error of a linear model, with NumPy as on the slide.

    Every epoch visits the rows in a fresh shuffled order (`data.batches` with
    one seeded Generator), one update per mini-batch of B rows:
    $θ ← θ − η_t \frac{2}{B} Z_B^\top (Z_B θ − y_B)$. batch_size = n is batch GD,
    1 is stochastic GD. θ starts at `theta0` (default 0). `schedule(t)` (t = 0
    for the first update) overrides the constant `lr`. Time is measured with
    `time.perf_counter` around drawing each batch and updating (the loss
    recorded after each update is not timed). With `stop_below`, the run ends
    at the first update whose loss is at or below it. With `replace=True` each
    batch is B rows drawn at random WITH replacement (the textbook model of SGD:
    every update independent of the others), ⌈n/B⌉ of them per epoch, instead
    of a shuffled pass that uses every row exactly once. With `drop_last`, a
    shuffled epoch skips its last, smaller batch (n mod B rows): a batch of a
    single row at a step size tuned for B rows can overshoot badly. Returns a `Run`.
    """
    from .data import batches
    Z, y = _design(x, y)
    n = len(Z)
    batch_size = _check_int("batch_size", batch_size)
    if batch_size > n:
        raise ValueError(f"batch_size={batch_size} is out of range; valid: batch_size in [1, {n}] "
                         f"(n = {n} rows)")
    epochs = _check_int("epochs", epochs)
    if schedule is None:
        if lr is None:
            raise ValueError("lr is required (a positive float) unless a schedule is given")
        lr = _check_number("lr", lr, 0, low_open=True)
    theta = np.zeros(Z.shape[1]) if theta0 is None else np.array(theta0, dtype=float)
    if theta.shape != (Z.shape[1],):
        raise ValueError(f"theta0 must have shape ({Z.shape[1]},) = (w_1, ..., w_d, b); got {theta.shape}")
    rng = np.random.default_rng(seed)
    losses, seconds, samples, lrs = [_loss(Z, y, theta)], [0.0], [0], []
    t, clock = 0, 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # a divergent η shows as inf, not a warning
        for _ in range(epochs):
            if stop_below is not None and losses[-1] <= stop_below:
                break
            if replace:
                picks = (rng.integers(0, n, batch_size) for _ in range(math.ceil(n / batch_size)))
                epoch = ((Z[i], y[i]) for i in picks)
            else:
                epoch = batches(Z, y, batch_size, rng=rng, drop_last=drop_last)
            while True:
                eta = lr if schedule is None else float(schedule(t))
                start = time.perf_counter()            # timed: drawing the batch and the update
                zb, yb = next(epoch, (None, None))
                if zb is None:
                    break
                theta = theta - eta * (2.0 / len(zb)) * (zb.T @ (zb @ theta - yb))
                clock += time.perf_counter() - start
                t += 1
                losses.append(_loss(Z, y, theta))
                seconds.append(clock)
                samples.append(samples[-1] + len(zb))
                lrs.append(eta)
                if stop_below is not None and losses[-1] <= stop_below:
                    break
    return Run(batch_size, n, np.array(losses), np.array(seconds), np.array(samples), np.array(lrs), theta,
               drop_last and not replace)


def gradient_spread(x, y, theta, batch_sizes, *, draws=400, seed=0):
    r"""How far a mini-batch gradient falls from the full gradient, by batch size.

    Measured: $\mathbb E\|g_B − g\|^2$ over `draws` batches of B rows drawn
    without replacement (as one mini-batch of a shuffled epoch is), at θ.
    Predicted: with per-row gradients $g_i$ and $σ^2 = \frac1n\sum\|g_i − g\|^2$,
    $\mathbb E\|g_B − g\|^2 = \frac{σ^2}{B}\cdot\frac{n − B}{n − 1}$: the variance of
    a mean of B samples, ∝ 1/B, with the finite-population factor that makes
    it exactly 0 at B = n (batch GD has no noise).
    """
    Z, y = _design(x, y)
    n = len(Z)
    sizes = _check_sizes("batch_sizes", batch_sizes, n)
    draws = _check_int("draws", draws)
    theta = np.asarray(theta, dtype=float)
    per_row = 2.0 * (Z @ theta - y)[:, None] * Z          # g_i, shape (n, d + 1)
    g = per_row.mean(axis=0)
    sigma2 = float(np.mean(np.sum((per_row - g) ** 2, axis=1)))
    rng = np.random.default_rng(seed)
    rows = []
    for B in sizes:
        spread = np.mean([np.sum((per_row[rng.choice(n, B, replace=False)].mean(axis=0) - g) ** 2)
                          for _ in range(draws)])
        predicted = sigma2 / B * (n - B) / (n - 1) if n > 1 else 0.0
        rows.append({"batch_size": B, "spread": float(spread), "predicted": predicted,
                     "ratio": float(spread) / predicted if predicted > 0 else None})
    return Table(rows, {"batch_size": "B", "spread": "E‖g_B − g‖² (measured)",
                        "predicted": "σ²/B·(n−B)/(n−1)", "ratio": "measured / predicted"},
                 title=f"mini-batch gradient spread around the full gradient (σ² = {sigma2:.3g}, n = {n})")


def minibatch_runs(x, y, batch_sizes, *, lr, target, epochs=20, seed=0, repeats=3, drop_last=False):
    """Batch size -> cost of reaching a target training loss, measured.

    For each B, runs `least_squares_sgd` (same seed; `lr` is one float for every
    B, or a mapping batch size -> lr, e.g. `lr_per_batch_size`'s tuned ones) and records
    ``updates`` (to reach `target`), ``epochs`` (passes over the data by then),
    ``seconds`` (training time by then: the best of `repeats` identical runs, so
    that a busy machine disturbs it less), ``seconds_per_epoch`` (over the whole
    run), ``uphill`` (the fraction of updates after which the full training loss
    was HIGHER than before: 0 for batch GD with η < 2/L), ``final_loss`` (mean
    loss over the last epoch), ``noise`` (its jitter, `Run.noise`) and ``reached``.
    None when the target is not reached in `epochs`. The runs are kept in
    `table.runs` (batch size -> Run) for plotting. `drop_last` as in `least_squares_sgd`.
    """
    Z, y = _design(x, y)
    sizes = _check_sizes("batch_sizes", batch_sizes, len(Z))
    target = _check_number("target", target)
    repeats = _check_int("repeats", repeats)
    x = Z[:, :-1]
    per_size = dict(lr) if isinstance(lr, dict) else {B: lr for B in sizes}
    missing = [B for B in sizes if B not in per_size]
    if missing:
        raise ValueError(f"lr has no learning rate for batch size(s) {missing}; give one float "
                         f"or a dict with every batch size in {sizes}")
    rows, runs = [], {}
    for B in sizes:
        eta = _check_number("lr", per_size[B], 0, low_open=True)
        run = least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed, drop_last=drop_last)
        k = run.updates_to(target)
        # the same run again, stopped at the target: the best time is the least disturbed one
        retimed = [least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed,
                                     stop_below=target, drop_last=drop_last).seconds[-1] for _ in range(repeats - 1)]
        last = run.last_epoch()
        rows.append({"batch_size": B, "lr": eta, "updates": k,
                     "epochs": None if k is None else float(run.epochs[k]),
                     "seconds": None if k is None else min([run.seconds[k], *retimed]),
                     "seconds_per_epoch": run.seconds[-1] / run.epochs[-1],
                     "uphill": float(np.mean(np.diff(run.losses) > 0)),
                     "final_loss": float(last.mean()), "noise": run.noise(),
                     "reached": k is not None})
        runs[B] = run
    table = Table(rows, {"batch_size": "B", "lr": "η", "updates": "updates to target",
                         "epochs": "epochs to target",
                         "seconds": "seconds to target", "seconds_per_epoch": "seconds per epoch",
                         "uphill": "updates that raised the loss",
                         "final_loss": "final loss (last-epoch mean)",
                         "noise": "noise (last epoch)", "reached": "reached?"},
                  title=f"mini-batch SGD, target loss {target:.4g}")
    table.runs = runs
    return table


def lr_per_batch_size(x, y, batch_sizes, lrs, *, target, epochs=20, seed=0, drop_last=False):
    r"""The learning rate from the grid `lrs` that reaches `target` in the fewest updates, per B.

    Each (B, η) runs `least_squares_sgd` (same seed) until the training loss is
    at most `target`. Rows: ``batch_size``, ``lr`` (the best; ties go to the
    smaller η), ``updates`` and ``epochs`` to the target with it, and
    ``lr_per_B`` = η/B. The linear-scaling rule says the best η grows ∝ B while
    the gradient noise (∝ 1/B) limits the step, and stops growing once the
    curvature does (η < 2/L for the full-batch gradient). Rows where no η of the
    grid reaches the target hold None. `drop_last` as in `least_squares_sgd`.
    """
    Z, y = _design(x, y)
    x = Z[:, :-1]
    sizes = _check_sizes("batch_sizes", batch_sizes, len(Z))
    lrs = sorted(_check_number("lrs", lr, 0, low_open=True) for lr in lrs)
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate")
    target = _check_number("target", target)
    rows = []
    for B in sizes:
        best = None
        for eta in lrs:
            run = least_squares_sgd(x, y, batch_size=B, lr=eta, epochs=epochs, seed=seed,
                                    stop_below=target, drop_last=drop_last)
            k = run.updates_to(target)
            if k is not None and (best is None or k < best[1]):
                best = (eta, k, float(run.epochs[k]))
        eta, k, ep = best if best else (None, None, None)
        rows.append({"batch_size": B, "lr": eta, "updates": k, "epochs": ep,
                     "lr_per_B": None if eta is None else eta / B})
    return Table(rows, {"batch_size": "B", "lr": "best η", "updates": "updates to target",
                        "epochs": "epochs to target", "lr_per_B": "η / B"},
                 title=f"η tuned per batch size on {len(lrs)} values, target loss {target:.4g}")


def stationary_excess(x, y, lr, *, batch_size=1):
    r"""SGD's noise ball in theory: the stationary $\mathbb E[\mathcal L(θ) − \mathcal L^*]$ with replacement.

    With batches of B rows drawn independently (with replacement), the error
    $e = θ − θ^*$ follows $e ← (I − ηH_B)e − η g_B(θ^*)$, $H_B$ the batch's
    Hessian and $g_B(θ^*)$ its gradient at the optimum (zero mean, covariance
    $Σ/B$, $Σ = rac1n\sum_i g_i g_i^	op$). Its covariance P is then stationary when
    $P = \mathbb E[(I − ηH_B) P (I − ηH_B)] + η^2 Σ/B$, a linear system for P
    (the noise is multiplicative: $H_B$ is random too). Returns
    ``(excess, rho)``: excess $= 	frac12 \operatorname{tr}(HP)$, ≈ ηtr(Σ)/(4B) for small η,
    and rho the spectral radius of the map P ↦ 𝔼[(I − ηH_B)P(I − ηH_B)]: the
    mean-square stability of SGD, which needs rho < 1 (excess is inf otherwise).
    """
    Z, y = _design(x, y)
    n, d = Z.shape
    B = _check_sizes("batch_size", [batch_size], n)[0]
    lr = _check_number("lr", lr, 0, low_open=True)
    theta_star = np.linalg.lstsq(Z, y, rcond=None)[0]
    H = 2.0 / n * Z.T @ Z
    g = 2.0 * (Z @ theta_star - y)[:, None] * Z                      # per-row gradients at θ*
    sigma = g.T @ g / n
    rows_kron = np.einsum("ni,nj->nij", Z, Z).reshape(n, d * d)        # z ⊗ z per row
    HH_row = 4.0 / n * rows_kron.T @ rows_kron                         # E[H_i ⊗ H_i]
    HH = HH_row / B + (1 - 1 / B) * np.kron(H, H)                      # E[H_B ⊗ H_B]
    eye = np.eye(d)
    M = np.eye(d * d) - lr * (np.kron(H, eye) + np.kron(eye, H)) + lr**2 * HH
    rho = float(np.max(np.abs(np.linalg.eigvals(M))))
    if rho >= 1:
        return math.inf, rho
    P = np.linalg.solve(np.eye(d * d) - M, lr**2 * (sigma / B).ravel()).reshape(d, d)
    return float(0.5 * np.trace(H @ P)), rho


def noise_ball(x, y, lrs, *, batch_size=1, epochs=20, seed=0, last_epochs=5, theta0=None,
               replace=False):
    r"""SGD with a constant step hovers above the minimum; how high, by learning rate.

    For each η, runs `least_squares_sgd` and reports ``excess``: the mean of
    $\mathcal L(θ_k) − \mathcal L^*$ over the updates of the last `last_epochs`
    epochs ($\mathcal L^*$ at the least-squares θ*, `linear.closed_form`). Every
    run starts at `theta0`, by default AT the minimiser θ*, so what is measured
    is the noise alone, not what is left of the descent: the gradient noise
    kicks the iterate out of the minimum, and a step η kicks it about η far.
    ``excess_per_lr`` shows how close to proportional the growth is, and
    ``theory`` is `stationary_excess` (sampling with replacement). `replace`
    chooses how batches are drawn (see `least_squares_sgd`): shuffled epochs,
    the default and what data loaders do, cancel part of the noise within each
    epoch (every row's gradient at θ* is used once, and they sum to zero), so
    at small η they hover lower than the theory, ∝ η² rather than ∝ η. The runs
    are kept in `table.runs` (lr -> Run).
    """
    from . import linear
    Z, y = _design(x, y)
    x = Z[:, :-1]
    epochs = _check_int("epochs", epochs)
    last_epochs = _check_int("last_epochs", last_epochs)
    if last_epochs > epochs:
        raise ValueError(f"last_epochs={last_epochs} is out of range; valid: 1 to epochs={epochs}")
    theta_star = linear.closed_form(x, y)
    optimum = _loss(Z, y, theta_star)
    rows, runs = [], {}
    for lr in lrs:
        run = least_squares_sgd(x, y, batch_size=batch_size, lr=lr, epochs=epochs, seed=seed,
                                theta0=theta_star if theta0 is None else theta0, replace=replace)
        tail = run.losses[-last_epochs * run.updates_per_epoch:] - optimum
        theory = stationary_excess(x, y, lr, batch_size=batch_size)[0]
        rows.append({"lr": float(lr), "excess": float(tail.mean()), "excess_per_lr": float(tail.mean() / lr),
                     "theory": theory})
        runs[float(lr)] = run
    drawn = "with replacement" if replace else "shuffled epochs"
    table = Table(rows, {"lr": "η", "excess": "mean ℒ − ℒ* (last epochs)", "excess_per_lr": "excess / η",
                         "theory": "theory, with replacement"},
                  title=f"constant-step SGD (B = {batch_size}, {drawn}): the noise ball")
    table.runs = runs
    return table
