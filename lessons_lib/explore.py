"""Interactive explorations: sliders that redraw a figure live in JupyterLab and Colab.

`explore(draw, lr=Log(1e-3, 1, 0.1), beta=(0.0, 0.99, 0.9))` builds one control
per keyword, draws `draw(fig, lr=0.1, beta=0.9)` once with the defaults, and
redraws on every change. Displayed, it is ONE output holding both the live widget
and a PNG of the default figure (with alt text): a frontend with ipywidgets shows
the widget; slides, HTML and nbval (which drop widget views, see
`publish.WIDGET_VIEW`) show the static default. A control spec is

    Log(low, high, value)    → FloatLogSlider (a learning rate)
    (low, high, value)       → FloatSlider, or IntSlider when all three are ints
    ["a", "b", ...]          → Dropdown, the first entry selected

Tests set `ex.controls["lr"].value = 0.3` and read `ex.figure`.
"""
import base64
import io
import math
from dataclasses import dataclass

from matplotlib.figure import Figure

from . import landscapes, optim, plots, schedules

SIZE = (9.0, 3.4)  # inches: two panels side by side fit a 1280×720 slide with its controls


@dataclass(frozen=True)
class Log:
    """A log-scale slider spec: low ≤ value ≤ high, all > 0."""
    low: float
    high: float
    value: float


def _control(name, spec):
    import ipywidgets as w
    if isinstance(spec, list):
        if not spec or not all(isinstance(s, str) for s in spec):
            raise ValueError(f"{name}={spec!r}: a dropdown needs a non-empty list of strings")
        return w.Dropdown(options=spec, value=spec[0], description=name)
    if isinstance(spec, Log):
        low, high, value = _ordered(name, spec.low, spec.high, spec.value)
        if low <= 0:
            raise ValueError(f"{name}={spec!r}: a log slider needs low > 0; got low={low:g}")
        lo, hi = math.log10(low), math.log10(high)
        return w.FloatLogSlider(value=value, base=10, min=lo, max=hi, step=(hi - lo) / 100,
                                description=name, readout_format=".3g")
    if isinstance(spec, tuple) and len(spec) == 3:
        low, high, value = _ordered(name, *spec)
        if all(isinstance(s, int) and not isinstance(s, bool) for s in spec):
            return w.IntSlider(value=value, min=low, max=high, description=name)
        return w.FloatSlider(value=value, min=low, max=high, step=(high - low) / 100,
                             description=name, readout_format=".3g")
    raise ValueError(f"{name}={spec!r}: give Log(low, high, value), (low, high, value) "
                     "or a list of choices")


def _ordered(name, low, high, value):
    numbers = (low, high, value)
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
               for v in numbers):
        raise ValueError(f"{name}: low, high and value must be finite numbers; got {numbers}")
    if not low < high or not low <= value <= high:
        raise ValueError(f"{name}: need low < high and low ≤ value ≤ high; "
                         f"got low={low!r}, high={high!r}, value={value!r}")
    return numbers


class Exploration:
    """Controls + a figure redrawn on change; see `explore`."""

    def __init__(self, draw, controls, figsize=SIZE):
        import ipywidgets as w
        self.draw, self.controls = draw, controls
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.output = w.Output()
        self.redraw()
        self.default_png, self.default_alt = self._png()
        for control in controls.values():
            control.observe(lambda change: self.redraw(), names="value")
        self.widget = w.VBox([w.HBox(list(controls.values())), self.output])

    @property
    def values(self):
        return {name: c.value for name, c in self.controls.items()}

    def redraw(self):
        """Draw `draw(figure, **values)` afresh and show it in the Output widget;
        what `draw` returns (a path, a list of rates) is kept as `result`."""
        self.figure.clear()
        self.result = self.draw(self.figure, **self.values)
        png, alt = self._png()
        self.output.outputs = ({"output_type": "display_data", "data":
                                {"image/png": png, "text/plain": alt},
                                "metadata": {"image/png": {"alt": alt}}},)

    def _png(self):
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png")
        return base64.b64encode(buffer.getvalue()).decode("ascii"), plots.describe(self.figure)

    def _repr_mimebundle_(self, include=None, exclude=None):
        data = self.widget._repr_mimebundle_(include=include, exclude=exclude) or {}
        data = {**data, "image/png": self.default_png, "text/plain": self.default_alt}
        return data, {"image/png": {"alt": self.default_alt}}


def explore(draw, figsize=SIZE, **specs):
    """An `Exploration`: one control per keyword spec, `draw(fig, **values)` drawn
    once with the defaults (the static figure) and again on every change."""
    if not specs:
        raise ValueError("explore needs at least one control, e.g. lr=Log(1e-3, 1, 0.1)")
    return Exploration(draw, {name: _control(name, spec) for name, spec in specs.items()},
                       figsize)


# -- the lessons' explorations ------------------------------------------------------------
def descent(fig, opt, landscape, x0, steps):
    """Path of `opt` on the contour (left) and f(x_k) against step k (right)."""
    path = optim.minimize(opt, landscape, x0, steps, stop_on_divergence=False)
    left, right = fig.subplots(1, 2)
    plots.contour(landscape, {opt.name: path}, ax=left, resolution=120)
    left.set(xlim=landscape.bounds[0], ylim=landscape.bounds[1])  # a diverging path stays framed
    plots.loss_curves({opt.name: landscape.value(path.T)}, ax=right, title="loss")
    return path


def gradient_descent(landscape="ill_conditioned", x0=(-8.0, 2.0), steps=60):
    """Lesson 02: GD with a log slider for η."""
    f = landscapes.REGISTRY[landscape]
    return explore(lambda fig, lr: descent(fig, optim.REGISTRY["sgd"](lr=lr), f, x0, steps),
                   lr=Log(1e-3, 0.045, 0.02))


def momentum(landscape="ill_conditioned", x0=(-8.0, 2.0), steps=60):
    """Lesson 04: heavy ball, sliders η and β."""
    f = landscapes.REGISTRY[landscape]
    return explore(lambda fig, lr, beta: descent(
        fig, optim.REGISTRY["momentum"](lr=lr, momentum=beta), f, x0, steps),
        lr=Log(1e-3, 0.07, 0.02), beta=(0.0, 0.99, 0.9))


def adam(landscape="rosenbrock", x0=(-1.5, 2.0), steps=300):
    """Lesson 06: Adam, sliders η, β₁, β₂."""
    f = landscapes.REGISTRY[landscape]
    return explore(lambda fig, lr, beta1, beta2: descent(
        fig, optim.REGISTRY["adam"](lr=lr, betas=(beta1, beta2)), f, x0, steps),
        lr=Log(1e-3, 0.5, 0.1), beta1=(0.0, 0.99, 0.9), beta2=(0.5, 0.9999, 0.999))


def warmed(name, lr, warmup, total_steps):
    """Schedule `name` from the registry with peak `lr`, after a linear warmup
    η_t = lr·(t + 1)/(W + 1) for t < W (the same ramp as `WarmupCosine`)."""
    sched = schedules.get(name, lr=lr, total_steps=total_steps - warmup)
    return [lr * (t + 1) / (warmup + 1) if t < warmup else sched(t - warmup)
            for t in range(total_steps)]


def schedule(total_steps=200):
    """Lesson 07: a schedule dropdown, peak η and warmup steps → the η(t) curve."""
    def draw(fig, schedule, lr, warmup):
        rates = warmed(schedule, lr, warmup, total_steps)
        plots.schedule({schedule: rates}, ax=fig.subplots(),
                       title=f"{schedule}, peak η = {lr:.3g}, warmup {warmup}")
        return rates
    names = ["cosine"] + [n for n in schedules.REGISTRY if n != "cosine"]
    return explore(draw, figsize=(7.0, 3.0), schedule=names, lr=Log(1e-3, 1.0, 0.1),
                   warmup=(0, total_steps // 2, total_steps // 10))


__all__ = ["Exploration", "Log", "adam", "descent", "explore", "gradient_descent", "momentum",
           "schedule", "warmed"]
