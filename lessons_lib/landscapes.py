r"""Test functions for optimizers: 1-D and 2-D landscapes with analytic gradients.

Each landscape has `value(x)`, `grad(x)`, `minima`, `saddle_points`, plotting
`bounds` (one `(low, high)` pair per dimension), `dim`, `name` and a LaTeX
`formula` for slides. `x` is a point of shape `(dim,)`; `value` and `grad` also
take a stack of points of shape `(dim, ...)`, so a whole plotting grid is one call:

    >>> f = REGISTRY["rosenbrock"]
    >>> f.value([1.0, 1.0])
    0.0
    >>> X, Y, Z = f.grid(100)          # Z = f.value(np.stack([X, Y]))

`Quadratic(A, b)` builds $f(x) = \tfrac12 x^\top A x - b^\top x$ with chosen curvature
and knows its Lipschitz constant `L`, so a lesson can talk about steps 1/L and 2/L;
`f.hessian(x)` is exact for it and by central differences for the others.

Everything the course minimises lives here (lesson 01's least squares, a
`Quadratic` in θ, is built by `linear.mse_landscape(x, y)`):

    REGISTRY                       the named test functions above
    NoisyQuadratic(curvature, σ)   f(x) = ½ Σ cᵢ xᵢ², seen through seeded noisy gradients
    sparse_logistic(...)           logistic regression on mostly-zero features, some
                                   rare but informative (where AdaGrad shines), with
                                   mini-batch gradients `grad(w, rows)`
"""
import numpy as np

import math
from dataclasses import dataclass, field

from .checks import Registry, check_int, check_range


class Landscape:
    """A function to minimise. Subclasses implement `_value(p)` and `_grad(p)` on
    arrays `p` of shape `(dim, ...)`, written with NumPy so they broadcast."""

    def __init__(self, name, dim, formula, bounds, minima, saddle_points=()):
        self.name, self.dim, self.formula = name, dim, formula
        self.bounds = tuple((float(lo), float(hi)) for lo, hi in bounds)
        # REGISTRY objects are shared by every lesson: freeze the points.
        self.minima = [_frozen(m) for m in minima]
        self.saddle_points = [_frozen(s) for s in saddle_points]

    def value(self, x):
        """f(x): a float for one point of shape (dim,), an array for shape (dim, ...)."""
        x = self._check(x)
        v = self._value(x)
        return float(v) if x.ndim == 1 else np.asarray(v)

    def grad(self, x):
        """∇f(x), the analytic gradient, with the same shape as x."""
        x = self._check(x)
        return np.asarray(self._grad(x), dtype=float)

    __call__ = value

    def hessian(self, x, h=1e-5):
        r"""∇²f(x) by central differences of the analytic gradient, symmetrised.

        $H_{:,j} ≈ (∇f(x + h e_j) − ∇f(x − h e_j)) / 2h$: the error is O(h²).
        `Quadratic` overrides it with its exact, constant A.
        """
        x = self._check(x)
        h = check_range(self, "h", h, 0, low_open=True)
        steps = h * np.eye(self.dim)
        H = np.column_stack([(self.grad(x + e) - self.grad(x - e)) / (2 * h) for e in steps])
        return (H + H.T) / 2

    def grid(self, resolution=200, bounds=None):
        """Points and values over `bounds` for plotting: (X, Y, Z) in 2-D, (x, f(x)) in 1-D."""
        bounds = self.bounds if bounds is None else bounds
        axes = [np.linspace(lo, hi, resolution) for lo, hi in bounds]
        points = np.stack(np.meshgrid(*axes)) if self.dim == 2 else np.stack(axes)
        return (*points, self.value(points))

    def _check(self, x):
        x = np.asarray(x, dtype=float)
        if x.ndim == 0 or x.shape[0] != self.dim:
            raise ValueError(f"{self.name}: x must be a point of dimension {self.dim} "
                             f"(shape ({self.dim},), or ({self.dim}, ...) for a grid); "
                             f"got shape {x.shape}")
        return x

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}, dim={self.dim}>"


def _frozen(point):
    point = np.array(point, dtype=float)
    point.flags.writeable = False
    return point


class Quadratic(Landscape):
    r"""f(x) = ½ xᵀA x − bᵀx + c,   ∇f(x) = A x − b,   Hessian A (symmetric).

    The gradient is L-Lipschitz with L = max |λ(A)|: gradient descent converges for
    a step below 2/L, and 1/L is the safe textbook choice. With μ = min λ(A) > 0 the
    condition number κ = L/μ says how elongated the valley is (how slow GD gets).
    The only critical point is A⁻¹b: a minimum when A is positive definite, a
    saddle when A has eigenvalues of both signs. The constant c moves only the values
    (the mean squared error of linear regression is such a quadratic in the weights).
    """

    def __init__(self, A, b=None, c=0.0, *, name="quadratic", formula=None, bounds=None):
        A = np.atleast_2d(np.asarray(A, dtype=float))
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise ValueError(f"Quadratic: A must be a square matrix; got shape {A.shape}")
        if not np.allclose(A, A.T):
            raise ValueError(f"Quadratic: A must be symmetric (f only depends on (A + Aᵀ)/2); got {A.tolist()}")
        n = A.shape[0]
        b = np.zeros(n) if b is None else np.asarray(b, dtype=float)
        if b.shape != (n,):
            raise ValueError(f"Quadratic: b must have shape ({n},) to match A; got shape {b.shape}")
        self.A, self.b, self.c = (A + A.T) / 2, b, float(c)
        self.eigenvalues = np.linalg.eigvalsh(self.A)  # ascending
        self.L = float(np.abs(self.eigenvalues).max())
        self.mu = float(self.eigenvalues.min())
        self.condition_number = self.L / self.mu if self.mu > 0 else np.inf

        singular = np.isclose(np.abs(self.eigenvalues).min(), 0.0)
        center = np.zeros(n) if singular else np.linalg.solve(self.A, b) + 0.0  # + 0.0: no −0 in reprs
        minima = [center] if self.mu > 0 and not singular else []
        saddles = [center] if not singular and self.eigenvalues[0] < 0 < self.eigenvalues[-1] else []
        if bounds is None:
            bounds = [(m - 5.0, m + 5.0) for m in center]
        if formula is None:
            formula = r"f(\mathbf{x}) = \frac{1}{2}\,\mathbf{x}^\top A\,\mathbf{x} - \mathbf{b}^\top \mathbf{x} + c"
        super().__init__(name, n, formula, bounds, minima, saddles)

    def hessian(self, x=None, h=None):
        """A, the same at every point (x and h are accepted so any landscape's call works)."""
        return self.A.copy()

    def _value(self, p):
        return 0.5 * np.sum(p * _contract(self.A, p), axis=0) - _contract(self.b, p) + self.c

    def _grad(self, p):
        return _contract(self.A, p) - self.b.reshape((-1,) + (1,) * (p.ndim - 1))


def _contract(M, p):
    """M's last axis against p's first: `M @ p` for one point, `tensordot` for a grid
    of points (dim, ...). The optimizers' paths call this once per step, where
    `@` takes ~1.4 µs and `tensordot` ~9 µs (the same numbers)."""
    return M @ p if p.ndim == 1 else np.tensordot(M, p, axes=1)


class Rosenbrock(Landscape):
    r"""f(x, y) = (a − x)² + b (y − x²)²;  minimum 0 at (a, a²).

    ∂f/∂x = −2(a − x) − 4b x (y − x²),   ∂f/∂y = 2b (y − x²).
    A narrow curved valley: easy to find, slow to follow to the end.
    """

    def __init__(self, a=1.0, b=100.0):
        self.a, self.b = a, b
        super().__init__("rosenbrock", 2, rf"f(x, y) = ({a:g} - x)^2 + {b:g}\,(y - x^2)^2",
                         [(-2.0, 2.0), (-1.0, 3.0)], [(a, a * a)])

    def _value(self, p):
        x, y = p
        return (self.a - x) ** 2 + self.b * (y - x**2) ** 2

    def _grad(self, p):
        x, y = p
        return [-2 * (self.a - x) - 4 * self.b * x * (y - x**2), 2 * self.b * (y - x**2)]


class Beale(Landscape):
    r"""f(x, y) = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²;  minimum 0 at (3, ½).

    With tᵢ = cᵢ − x + x yⁱ:  ∂f/∂x = Σ 2tᵢ (yⁱ − 1),   ∂f/∂y = Σ 2tᵢ · i x yⁱ⁻¹.
    Flat plateaus and steep ridges: step sizes that suit one part fail in another.
    """

    def __init__(self):
        super().__init__("beale", 2,
                         r"f(x, y) = (1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2",
                         [(-4.5, 4.5), (-4.5, 4.5)], [(3.0, 0.5)])

    _c = (1.5, 2.25, 2.625)

    def _value(self, p):
        x, y = p
        return sum((c - x + x * y**i) ** 2 for i, c in enumerate(self._c, start=1))

    def _grad(self, p):
        x, y = p
        t = [c - x + x * y**i for i, c in enumerate(self._c, start=1)]
        return [sum(2 * t[i - 1] * (y**i - 1) for i in (1, 2, 3)),
                sum(2 * t[i - 1] * i * x * y ** (i - 1) for i in (1, 2, 3))]


class Himmelblau(Landscape):
    r"""f(x, y) = (x² + y − 11)² + (x + y² − 7)²;  four minima, all with value 0.

    ∂f/∂x = 4x (x² + y − 11) + 2 (x + y² − 7),   ∂f/∂y = 2 (x² + y − 11) + 4y (x + y² − 7).
    Which minimum an optimizer reaches depends on where it starts.
    """

    def __init__(self):
        # (3, 2) is exact; the other three are roots of a cubic, refined by Newton's method.
        minima = [(3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                  (-3.779310253377747, -3.2831859912861696), (3.5844283403304917, -1.8481265269644034)]
        super().__init__("himmelblau", 2, r"f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2",
                         [(-5.0, 5.0), (-5.0, 5.0)], minima)

    def _value(self, p):
        x, y = p
        return (x**2 + y - 11) ** 2 + (x + y**2 - 7) ** 2

    def _grad(self, p):
        x, y = p
        u, v = x**2 + y - 11, x + y**2 - 7
        return [4 * x * u + 2 * v, 2 * u + 4 * y * v]


class Rastrigin(Landscape):
    r"""f(x) = 10 n + Σᵢ (xᵢ² − 10 cos 2πxᵢ);  global minimum 0 at the origin.

    ∂f/∂xᵢ = 2xᵢ + 20π sin 2πxᵢ.  A bowl covered in local minima, one near every
    integer point: the trap for plain gradient descent.
    """

    def __init__(self, dim=2):
        super().__init__("rastrigin", dim,
                         r"f(\mathbf{x}) = 10n + \sum_{i=1}^{n} \left(x_i^2 - 10\cos 2\pi x_i\right)",
                         [(-5.12, 5.12)] * dim, [np.zeros(dim)])

    def _value(self, p):
        return 10 * self.dim + np.sum(p**2 - 10 * np.cos(2 * np.pi * p), axis=0)

    def _grad(self, p):
        return 2 * p + 20 * np.pi * np.sin(2 * np.pi * p)


class DoubleWell(Landscape):
    r"""f(x) = (x² − 1)² + t·x: two wells, and the tilt t makes one of them deeper.

    f'(x) = 4x (x² − 1) + t,   f''(x) = 12x² − 4.
    The critical points are the roots of 4x³ − 4x + t = 0. For |t| < 8/(3√3) ≈ 1.54
    there are three: two minima with a barrier (a local maximum) between them; with
    t > 0 the deep (global) minimum lies left, near x = −1, and the shallow one right,
    near x = +1. Gradient descent started on the right settles in the shallow well;
    a heavy ball with enough momentum rolls over the barrier into the deep one.

    `minima` lists the deepest minimum first; `barrier` is the local maximum and
    `barrier_height` = f(barrier) − f(shallow minimum), what a ball in the shallow
    well must climb.
    """

    MAX_TILT = 8 / (3 * np.sqrt(3))

    def __init__(self, tilt=0.5, bounds=((-1.8, 1.8),)):
        try:
            number = float(tilt)
        except (TypeError, ValueError):
            number = np.nan
        if not abs(number) < self.MAX_TILT:
            raise ValueError(f"DoubleWell: tilt={tilt!r} is out of range; valid: |tilt| < "
                             f"8/(3√3) ≈ {self.MAX_TILT:.4f} (beyond it the shallow well vanishes)")
        self.tilt = tilt = number
        roots = np.sort(np.roots([4.0, 0.0, -4.0, tilt]).real)
        for _ in range(3):  # polish the cubic's roots with Newton's method on f'
            roots = roots - (4 * roots**3 - 4 * roots + tilt) / (12 * roots**2 - 4)
        left, barrier, right = roots
        value = lambda x: (x * x - 1) ** 2 + tilt * x
        deep, shallow = sorted([left, right], key=value)
        self.barrier = float(barrier)
        self.barrier_height = float(value(barrier) - value(shallow))
        super().__init__("double_well", 1, rf"f(x) = (x^2 - 1)^2 + {tilt:g}\,x", bounds,
                         [(deep,), (shallow,)])

    def _value(self, p):
        x = p[0]
        return (x * x - 1) ** 2 + self.tilt * x

    def _grad(self, p):
        x = p[0]
        return (4 * x * (x * x - 1) + self.tilt)[None]


class SaddleWells(Landscape):
    r"""f(x, y) = x² − y² + y⁴/4: a saddle at the origin between two wells.

    ∇f = (2x, −2y + y³). The Hessian at the origin is diag(2, −2): a saddle, and
    the x-axis is its stable manifold (a start with y = 0 keeps y = 0 under any
    gradient method, because ∂f/∂y = 0 there). The quartic term bounds f below:
    the minima are (0, ±√2) with f = −1, so an escape has somewhere to go.
    """

    def __init__(self):
        root2 = float(np.sqrt(2.0))
        super().__init__("saddle_wells", 2, r"f(x, y) = x^2 - y^2 + \frac{1}{4}\,y^4",
                         [(-2.0, 2.0), (-2.2, 2.2)], [(0.0, root2), (0.0, -root2)],
                         saddle_points=[(0.0, 0.0)])

    def _value(self, p):
        x, y = p
        return x**2 - y**2 + 0.25 * y**4

    def _grad(self, p):
        x, y = p
        return [2 * x, -2 * y + y**3]


# -- training problems: the same kind of thing, seen through mini-batch or noisy gradients
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # no overflow for large |z|


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
    check_int(None, "n_samples", n_samples, 1)
    check_int(None, "n_common", n_common, 0)
    check_int(None, "n_rare", n_rare, 0)
    if n_common + n_rare == 0:
        raise ValueError("n_common + n_rare must be >= 1; got 0 features")
    check_range(None, "p_common", p_common, 0, 1, low_open=True)
    check_range(None, "p_rare", p_rare, 0, 1, low_open=True)
    check_range(None, "common_scale", common_scale, 0, math.inf)
    check_range(None, "rare_scale", rare_scale, 0, math.inf)
    check_range(None, "l2", l2, 0, math.inf, low_open=True)
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.random((n_samples, n_common)) < p_common,
                        rng.random((n_samples, n_rare)) < p_rare], axis=1).astype(float)
    w_true = np.concatenate([rng.normal(0.0, common_scale, n_common),
                             rare_scale * rng.choice([-1.0, 1.0], n_rare)])
    y = (rng.random(n_samples) < _sigmoid(X @ w_true)).astype(float)
    rare = np.arange(n_common + n_rare) >= n_common
    return SparseLogistic(X, y, w_true, rare, float(l2))


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
        check_range(None, "noise", noise, 0, math.inf)
        self.noise, self.seed, self.dim = float(noise), seed, self.curvature.size

    def value(self, x):
        x = np.asarray(x, dtype=float)
        return float(0.5 * np.sum(self.curvature * x * x))

    def grad(self, x, t=0):
        xi = np.random.default_rng([self.seed, t]).normal(size=self.dim)
        return self.curvature * np.asarray(x, dtype=float) + self.noise * xi


def _registry():
    quadratic = Quadratic([[2.0]], name="quadratic", formula=r"f(x) = x^2", bounds=[(-3, 3)])
    # κ = 50: GD with a step of 1/L crawls along x (it shrinks by 1 − 1/κ = 0.98 per
    # step) while momentum 0.9 shrinks by √0.9 ≈ 0.95: a visible win.
    ill = Quadratic(np.diag([1.0, 50.0]), name="ill_conditioned",
                    formula=r"f(x, y) = \frac{1}{2}\,(x^2 + 50\,y^2)", bounds=[(-10, 10), (-4, 4)])
    saddle = Quadratic(np.diag([2.0, -2.0]), name="saddle", formula=r"f(x, y) = x^2 - y^2",
                       bounds=[(-2, 2), (-2, 2)])
    items = [quadratic, ill, Rosenbrock(), Beale(), Himmelblau(), saddle, Rastrigin(),
             DoubleWell(), SaddleWells()]
    return Registry("landscape", {f.name: f for f in items})


REGISTRY = _registry()
