r"""Small synthetic training problems, and the measurements lessons make on them.

    sparse_logistic(...)              logistic regression on mostly-zero features, some of
                                      them rare but informative (where AdaGrad shines)
    NoisyQuadratic(curvature, noise)  f(x) = ½ Σ cᵢ xᵢ² with seeded noisy gradients
    trace(opt, grad, x0, steps)       path, gradients and effective learning rates −Δx/g
    train(opt, problem, steps)        mini-batch training with NumPy; the loss after each step
    tune_lr(opt, lrs, problem, steps) the best learning rate of a small grid, and every run

Everything is NumPy, float64 and seeded: the same seed gives the same numbers on
every machine, so a lesson can assert what it measures.
"""
import math
from dataclasses import dataclass, field

import numpy as np

from .checks import check_int, check_range


# -- validation ------------------------------------------------------------------------
def _check_int(name, value, low):
    return check_int(None, name, value, low)


def _check_float(name, value, low, high, **open_ends):
    return check_range(None, name, value, low, high, **open_ends)


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


# -- sparse features ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SparseLogistic:
    r"""Binary logistic regression with an L2 penalty, on the rows of `X`.

        L(w) = (1/n) Σᵢ [log(1 + e^{zᵢ}) − yᵢ zᵢ] + (λ/2)‖w‖²,   zᵢ = xᵢ·w
        ∇L(w) = (1/n) Xᵀ(σ(z) − y) + λ w

    `rows` (an index array) restricts the mean to a mini-batch; the penalty is
    always added once. `rare` marks the rare features, `frequency` is the fraction
    of rows in which each feature is non-zero.
    """

    X: np.ndarray
    y: np.ndarray
    w_true: np.ndarray
    rare: np.ndarray
    l2: float
    _solution: dict = field(default_factory=dict, repr=False)

    @property
    def n_samples(self):
        return self.X.shape[0]

    @property
    def dim(self):
        return self.X.shape[1]

    @property
    def frequency(self):
        return (self.X != 0).mean(axis=0)

    def _rows(self, rows):
        return (self.X, self.y) if rows is None else (self.X[rows], self.y[rows])

    def loss(self, w, rows=None):
        """Mean logistic loss (+ L2 penalty) over all rows, or over `rows`."""
        X, y = self._rows(rows)
        z = X @ np.asarray(w, dtype=float)
        return float(np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * self.l2 * np.dot(w, w))

    def grad(self, w, rows=None):
        """∇L(w) over all rows, or over the mini-batch `rows`."""
        X, y = self._rows(rows)
        w = np.asarray(w, dtype=float)
        return X.T @ (_sigmoid(X @ w) - y) / len(y) + self.l2 * w

    def solve(self, tol=1e-12, max_iter=100):
        """(w*, L(w*)): the exact minimiser, by Newton's method (the penalty λ > 0 makes
        L strictly convex, so the minimiser is unique). Cached after the first call."""
        if "w" not in self._solution:
            w = np.zeros(self.dim)
            for _ in range(max_iter):
                s = _sigmoid(self.X @ w)
                hessian = (self.X.T * (s * (1 - s))) @ self.X / self.n_samples + self.l2 * np.eye(self.dim)
                step = np.linalg.solve(hessian, self.grad(w))
                w = w - step
                if np.max(np.abs(step)) < tol:
                    break
            self._solution.update(w=w, loss=self.loss(w))
        return self._solution["w"].copy(), self._solution["loss"]


def sparse_logistic(n_samples=2000, n_common=10, n_rare=40, *, p_common=0.5, p_rare=0.02,
                    common_scale=0.5, rare_scale=3.0, l2=1e-3, seed=0):
    """A seeded `SparseLogistic` problem with 0/1 features, like words in short texts.

    The first `n_common` features are non-zero in a fraction `p_common` of the rows
    and carry small weights (normal, std `common_scale`); the last `n_rare` are
    non-zero in a fraction `p_rare` only but carry large weights (±`rare_scale`):
    rare but informative. Labels are drawn from the logistic model,
    y ~ Bernoulli(σ(x·w_true)).
    """
    _check_int("n_samples", n_samples, 1)
    _check_int("n_common", n_common, 0)
    _check_int("n_rare", n_rare, 0)
    if n_common + n_rare == 0:
        raise ValueError("n_common + n_rare must be >= 1; got 0 features")
    _check_float("p_common", p_common, 0, 1, low_open=True)
    _check_float("p_rare", p_rare, 0, 1, low_open=True)
    _check_float("common_scale", common_scale, 0, math.inf)
    _check_float("rare_scale", rare_scale, 0, math.inf)
    _check_float("l2", l2, 0, math.inf, low_open=True)
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.random((n_samples, n_common)) < p_common,
                        rng.random((n_samples, n_rare)) < p_rare], axis=1).astype(float)
    w_true = np.concatenate([rng.normal(0.0, common_scale, n_common),
                             rare_scale * rng.choice([-1.0, 1.0], n_rare)])
    y = (rng.random(n_samples) < _sigmoid(X @ w_true)).astype(float)
    rare = np.arange(n_common + n_rare) >= n_common
    return SparseLogistic(X, y, w_true, rare, float(l2))


# -- a noisy quadratic -----------------------------------------------------------------
class NoisyQuadratic:
    r"""f(x) = ½ Σᵢ cᵢ xᵢ², observed through noisy gradients g_t(x) = c ⊙ x + σ ξ_t.

    ξ_t ~ N(0, I) is drawn from a generator seeded with (seed, t), so the noise of
    step t is the same whichever optimizer asks and in whatever order: a fair race.
    `value(x)` is the noiseless f; `grad(x, t)` is the noisy gradient of step t.
    """

    def __init__(self, curvature=(1.0,), noise=1.0, seed=0):
        self.curvature = np.atleast_1d(np.asarray(curvature, dtype=float))
        if self.curvature.ndim != 1 or not np.all(self.curvature > 0):
            raise ValueError(f"curvature must be a 1-D sequence of positive numbers; got {curvature!r}")
        _check_float("noise", noise, 0, math.inf)
        self.noise, self.seed, self.dim = float(noise), seed, self.curvature.size

    def value(self, x):
        x = np.asarray(x, dtype=float)
        return float(0.5 * np.sum(self.curvature * x * x))

    def grad(self, x, t=0):
        xi = np.random.default_rng([self.seed, t]).normal(size=self.dim)
        return self.curvature * np.asarray(x, dtype=float) + self.noise * xi


# -- measurements -----------------------------------------------------------------------
@dataclass
class Trace:
    """What `trace` records: `path` (steps + 1, dim) and `grads` (steps, dim)."""

    path: np.ndarray
    grads: np.ndarray

    @property
    def effective_lr(self):
        """(steps, dim): −Δx/g, the step each coordinate took per unit of gradient.

        For SGD this is η; for AdaGrad η/(√s_t + ε). NaN where the gradient is 0.
        (With momentum it mixes in the old gradients: read it as a ratio, not a rule.)
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = (self.path[:-1] - self.path[1:]) / self.grads
        return np.where(self.grads != 0, ratio, np.nan)

    @property
    def step_sizes(self):
        """(steps,): ‖x_t − x_{t−1}‖, the length of every step."""
        return np.linalg.norm(np.diff(self.path, axis=0), axis=1)


def trace(opt, grad, x0, steps, *, schedule=None):
    """Run `opt` for `steps` updates from `x0` and keep the path and the gradients.

    `grad` is a callable `grad(x, t)` (t = 0, 1, ... the step, as `NoisyQuadratic.grad`)
    or a landscape (anything with `grad(x)`). `schedule(t)` overrides the learning rate.
    """
    _check_int("steps", steps, 0)
    gradient = (lambda x, t: grad.grad(x)) if hasattr(grad, "grad") else grad
    x = np.array(x0, dtype=float)
    path, grads, state = [x], [], opt.init(x)
    for t in range(steps):
        g = np.asarray(gradient(x, t), dtype=float)
        x, state = opt.update(x, g, state, lr=None if schedule is None else schedule(t))
        path.append(x)
        grads.append(g)
    return Trace(np.stack(path), np.array(grads).reshape(steps, x.size))


@dataclass
class Run:
    """One training run: final weights `w`, `losses` (full-data loss after each of the
    steps, losses[0] at the start) and whether it `diverged` (then losses end in inf)."""

    w: np.ndarray
    losses: np.ndarray
    diverged: bool

    def final(self, last=50):
        """Mean loss over the last `last` steps: a score that mini-batch noise does not sway."""
        return float(np.mean(self.losses[-last:]))


def train(opt, problem, steps, *, batch_size=32, seed=0, w0=None):
    """Mini-batch training of `problem` (with `loss(w)`, `grad(w, rows)`, `n_samples`,
    `dim`) by the NumPy optimizer `opt`. Every epoch visits the rows in a fresh seeded
    order. Returns a `Run`; a loss that stops being finite ends the run (diverged)."""
    _check_int("steps", steps, 0)
    _check_int("batch_size", batch_size, 1)
    rng = np.random.default_rng(seed)
    w = np.zeros(problem.dim) if w0 is None else np.array(w0, dtype=float)
    state, losses, order = opt.init(w), [problem.loss(w)], np.array([], dtype=int)
    for _ in range(steps):
        if len(order) < batch_size:
            order = np.concatenate([order, rng.permutation(problem.n_samples)])
        rows, order = order[:batch_size], order[batch_size:]
        with np.errstate(all="ignore"):
            w, state = opt.update(w, problem.grad(w, rows), state)
            loss = problem.loss(w)
        if not np.isfinite(loss):
            losses += [np.inf] * (steps + 1 - len(losses))
            return Run(w, np.array(losses), True)
        losses.append(loss)
    return Run(w, np.array(losses), False)


def tune_lr(opt, lrs, problem, steps, *, last=50, **train_kwargs):
    """Train `opt` with each learning rate in `lrs`; return (best lr, {lr: Run}).

    The best is the lowest `Run.final(last)`; a diverged run never wins. Every run
    uses the same seed, so the learning rate is the only difference between them.
    """
    lrs = [float(lr) for lr in lrs]
    if not lrs:
        raise ValueError("lrs must hold at least one learning rate; got none")
    runs = {lr: train(opt.with_hparams(lr=lr), problem, steps, **train_kwargs) for lr in lrs}
    best = min(lrs, key=lambda lr: np.inf if runs[lr].diverged else runs[lr].final(last))
    return best, runs
