r"""Linear least squares, the course's first optimisation problem.

A linear model predicts ŷᵢ = wᵀxᵢ + b. Its parameters are one vector
θ = (w₁, …, w_d, b), the bias last; with the design matrix Z = [X, 1] (a column
of ones appended) the predictions are Zθ and the mean squared error is

    ℒ(θ) = (1/n) Σᵢ (wᵀxᵢ + b − yᵢ)² = (1/n) ‖Zθ − y‖²
    ∇ℒ(θ) = (2/n) Zᵀ(Zθ − y)
    ∇²ℒ = H = (2/n) ZᵀZ                      (the same at every θ: `mse_hessian`)

(ℒ for the loss; the lessons keep L for the largest curvature λ_max(H).)
So ℒ is a quadratic, ½θᵀHθ − (2/n)(Zᵀy)ᵀθ + yᵀy/n, and convex: every point
with ∇ℒ = 0 is a global minimum. Setting the gradient to zero gives the normal
equations ZᵀZθ = Zᵀy (`closed_form` solves them with `np.linalg.lstsq`, which
is stabler than inverting ZᵀZ). Gradient descent θ ← θ − α∇ℒ converges for
every start exactly when 0 < α < 2/λ_max(H) (`max_stable_lr`).

`x` is an array of shape (n,) (one feature) or (n, d); `y` has shape (n,) or
(n, 1), as `lessons_lib.data.toy_regression()` returns it. Everything is
computed in float64.

Centring the features (`standardize`) removes the coupling between w and b that
makes the valley narrow: with x̄ = 0 the Hessian is block-diagonal, diag(2 Cov(x), 2).
"""
import numpy as np

from .landscapes import Quadratic

FORMULA_1D = r"\mathcal{L}(w, b) = \frac{1}{n}\sum_{i=1}^{n} (w\,x_i + b - y_i)^2"
FORMULA = r"\mathcal{L}(\mathbf{w}, b) = \frac{1}{n}\sum_{i=1}^{n} (\mathbf{w}^\top \mathbf{x}_i + b - y_i)^2"


def _features(x):
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x must have shape (n,) or (n, d) with n, d >= 1; got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must hold finite numbers only; got NaN or inf")
    return x


def checked_data(x, y):
    """(x as (n, d), y as (n,)) as floats, or a ValueError naming the bad shape or value."""
    x = _features(x)
    y = np.asarray(y, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (x.shape[0],):
        raise ValueError(f"y must have shape ({x.shape[0]},) or ({x.shape[0]}, 1) to match "
                         f"x's {x.shape[0]} rows; got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must hold finite numbers only; got NaN or inf")
    return x, y


def _params(params, d):
    theta = np.asarray(params, dtype=float)
    if theta.shape != (d + 1,):
        raise ValueError(f"params must be (w_1, ..., w_d, b), shape ({d + 1},) for {d} "
                         f"feature(s); got shape {theta.shape}")
    return theta


def design_matrix(x):
    """Z = [X, 1]: the features with a column of ones appended (for the bias b)."""
    x = _features(x)
    return np.column_stack([x, np.ones(len(x))])


def mse(params, x, y):
    """ℒ(θ) = (1/n) Σᵢ (wᵀxᵢ + b − yᵢ)², with params θ = (w₁, …, w_d, b)."""
    x, y = checked_data(x, y)
    residual = design_matrix(x) @ _params(params, x.shape[1]) - y
    return float(np.mean(residual**2))


def mse_grad(params, x, y):
    """∇ℒ(θ) = (2/n) Zᵀ(Zθ − y), i.e. ∂ℒ/∂w = (2/n) Σ rᵢ xᵢ and ∂ℒ/∂b = (2/n) Σ rᵢ
    with the residuals rᵢ = wᵀxᵢ + b − yᵢ. Shape (d + 1,), bias last."""
    x, y = checked_data(x, y)
    Z = design_matrix(x)
    residual = Z @ _params(params, x.shape[1]) - y
    return 2.0 / len(y) * (Z.T @ residual)


def standardize(x, *, scale=True):
    """The features centred, x − mean(x), and with `scale` also divided by their std.

    Column by column, with the statistics of `x` itself (for new data, reuse
    the training set's). A constant column cannot be scaled: ValueError.
    Centring makes ZᵀZ block-diagonal (Σ(xᵢ − x̄) = 0 decouples w from b), so
    the Hessian's condition number becomes that of diag(Cov(x), 1); scaling to
    std 1 as well makes it the condition number of the correlation matrix.
    """
    x = _features(x)
    centred = x - x.mean(axis=0)
    if not scale:
        return centred
    std = x.std(axis=0)
    if np.any(std == 0):
        raise ValueError(f"x has constant column(s) {np.flatnonzero(std == 0).tolist()}: they "
                         f"cannot be scaled to std 1; drop them or pass scale=False")
    return centred / std


def mse_hessian(x):
    """H = ∇²ℒ = (2/n) ZᵀZ, shape (d + 1, d + 1): it does not depend on θ or y."""
    Z = design_matrix(x)
    return 2.0 / len(Z) * (Z.T @ Z)


def closed_form(x, y):
    """The least-squares θ* = (w*, b*) solving the normal equations ZᵀZθ = Zᵀy.

    Uses `np.linalg.lstsq`; when ZᵀZ is singular (fewer distinct points than
    parameters) every solution has the same loss and the one of smallest norm
    is returned.
    """
    x, y = checked_data(x, y)
    return np.linalg.lstsq(design_matrix(x), y, rcond=None)[0]


def max_stable_lr(x):
    """2 / λ_max(H): gradient descent on the MSE converges from every start exactly
    for learning rates 0 < α < 2/λ_max. Along the eigenvector of λ_max the error is
    multiplied by (1 − αλ_max) each step; at α = 2/λ_max it flips sign without
    shrinking, above it grows."""
    return 2.0 / float(np.linalg.eigvalsh(mse_hessian(x))[-1])


class MSELandscape(Quadratic):
    r"""The MSE of linear regression as a `landscapes.Quadratic` in θ = (w, b).

    ½θᵀAθ − bᵀθ + c with A = H = (2/n) ZᵀZ, b = (2/n) Zᵀy, c = yᵀy/n, so `grad`
    equals `mse_grad`, `L` is λ_max(H) and `minima` holds the least-squares θ*
    (when it is unique). `value` is computed as L(θ*) + ½(θ − θ*)ᵀH(θ − θ*), the
    same quadratic written around its minimum: the expanded form loses every digit
    near θ* (it subtracts numbers of size yᵀy/n) and can even come out negative,
    which a log-scale loss curve cannot show.
    """

    def __init__(self, x, y, *, bounds=None, name="mse"):
        x, y = checked_data(x, y)
        Z, n = design_matrix(x), len(y)
        super().__init__(mse_hessian(x), 2.0 / n * (Z.T @ y), float(y @ y) / n, name=name,
                         formula=FORMULA_1D if x.shape[1] == 1 else FORMULA, bounds=bounds)
        self.theta_star = closed_form(x, y)
        self.theta_star.flags.writeable = False
        self.loss_star = mse(self.theta_star, x, y)
        if self.minima:  # lstsq is more accurate than Quadratic's solve(A, b)
            self.minima = [self.theta_star]

    def _value(self, p):
        d = p - self.theta_star.reshape((-1,) + (1,) * (p.ndim - 1))
        curvature = 0.5 * np.sum(d * np.tensordot(self.A, d, axes=1), axis=0)
        return self.loss_star + np.maximum(curvature, 0.0)  # H is positive semi-definite


def mse_landscape(x, y, *, bounds=None, name="mse"):
    """The MSE of a linear model on (x, y) as a landscape over θ = (w, b), to plot and
    to minimise (see `MSELandscape`). One feature gives a 2-D landscape over (w, b);
    `bounds` defaults to θ* ± 5 in every coordinate."""
    return MSELandscape(x, y, bounds=bounds, name=name)
