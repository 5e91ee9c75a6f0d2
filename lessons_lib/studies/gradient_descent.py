r"""Gradient descent on landscapes, measured (lesson 02).

    critical_learning_rates(f)      1/L, 2/(λmin + λmax), 2/L of a quadratic
    contraction(f, lr)              max_i |1 − η λ_i|, GD's rate per step
    predicted_steps(f, x0, lr, tol) steps to tolerance from the eigen-decomposition
    lr_table(f, x0, lrs, tol=...)   learning rate -> steps to tolerance, measured
    where_descent_ends(f, starts)   which minimum each start falls into
    classify_point(f, x)            minimum, maximum, saddle or degenerate (f.hessian)
    saddle_escape(f, optimizers, x0, noise=...)   steps to leave a saddle
    descent(f, x0, steps, direction="newton")     Newton, Jacobi, Armijo line search
    descent_table(f, x0, lr=...)    steps to tolerance of each of those
    gradient_norms_through_depth(depth, "tanh")   vanishing gradients, layer by layer

`f` is a landscape (`lessons_lib.landscapes`); results are `Table`s.
"""
import math

import numpy as np

from ..table import Table, _format
from ._args import _check_int, _check_number, _quadratic


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
    from .. import optim
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
    from .. import optim
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
    lam = np.linalg.eigvalsh(f.hessian(x, h))
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
    Hessian is `f.hessian(x)` (exact for a quadratic, central differences otherwise).
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
            H = f.hessian(x)
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
    from ..optim.minimize import steps_to_tolerance
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
    from ..devices import pick_device
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


