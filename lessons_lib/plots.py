"""Figures and animations for the lessons.

Every function returns a matplotlib Figure (or, for `animate`, a FuncAnimation)
and never calls `plt.show()`. Pass `ax=` to draw into an existing Axes. Figures
are made with pyplot, so Jupyter shows each one once at the end of the cell; end
the cell with `;` or assign the result (`fig = plots.contour(...)`) so that the
returned Figure is not shown a second time.

Trajectories are arrays of shape (steps + 1, dim), as `optim.minimize` returns
them; pass one array or a dict label -> array to compare several.
"""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.animation import FuncAnimation

DEFAULT_FRAMES = 60
MAX_FRAMES = 100  # every frame is a PNG inside the notebook: keep files and render times small


def contour(landscape, trajectories=None, *, ax=None, levels=30, log_levels=None, title=None,
            bounds=None, resolution=200, aspect="equal"):
    """Filled contours of a 2-D landscape over its bounds, minima (★) and saddle points (✕)
    marked, and trajectories drawn with their start (○) and end (■).

    Log-spaced levels, f_min + geomspace(10⁻⁵·Δ, Δ) with Δ = f_max − f_min over the
    grid, put as many bands on a valley floor as on its walls (Rosenbrock needs that).
    The default, log_levels=None, uses them when the landscape has a minimum and
    evenly spaced levels otherwise (a saddle has no floor to zoom into).
    `levels` may also be an explicit increasing sequence of values.
    """
    _require_dim(landscape, 2, "contour", "use plots.curve for a 1-D landscape")
    paths = _trajectories(trajectories, 2)
    own_figure = ax is None
    fig, ax = _axes(ax)
    _draw_landscape(ax, landscape, levels, log_levels, bounds, resolution, aspect)
    for label, path in paths.items():
        line, = ax.plot(path[:, 0], path[:, 1], "-o", ms=2.5, lw=1.5, label=label)
        _ends(ax, path[0], path[-1], line.get_color())
    if paths:
        _end_legend_entries(ax)
    _finish(ax, _title(landscape, title), outside=own_figure)
    return fig


def curve(landscape, trajectories=None, *, ax=None, title=None, bounds=None, resolution=400):
    """A 1-D landscape f(x) over its bounds, with the iterates drawn on the curve, so
    each step of gradient descent shows as a point (x_t, f(x_t)).

    Iterates that leave the bounds (a diverging step size) leave the picture too:
    the axes stay on the curve.
    """
    _require_dim(landscape, 1, "curve", "use plots.contour for a 2-D landscape")
    paths = _trajectories(trajectories, 1)
    bounds = _bounds(landscape, bounds)
    fig, ax = _axes(ax)
    xs, fx = landscape.grid(resolution, bounds)
    ax.plot(xs, fx, color="0.3", lw=1.5, label="_f")
    _mark_points(ax, [(m[0], landscape.value(m)) for m in landscape.minima], "*", "minimum", "minima")
    for label, path in paths.items():
        points = np.column_stack([path[:, 0], landscape.value(path.T)])
        line, = ax.plot(points[:, 0], points[:, 1], "-o", ms=4, lw=1, alpha=0.8, label=label)
        _ends(ax, points[0], points[-1], line.get_color())
    if paths:
        _end_legend_entries(ax)
    margin = 0.05 * (fx.max() - fx.min())
    ax.set_xlim(bounds[0])
    ax.set_ylim(fx.min() - margin, fx.max() + margin)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")
    _finish(ax, _title(landscape, title))
    return fig


def surface_3d(landscape, trajectories=None, *, ax=None, title=None, bounds=None, resolution=60,
               elev=35, azim=-60, cmap="viridis"):
    """A 2-D landscape as a 3-D surface z = f(x, y), trajectories drawn on it.

    Points of a trajectory outside the bounds are left out, because a 3-D Axes
    does not clip lines to its box.
    """
    _require_dim(landscape, 2, "surface_3d", "use plots.curve for a 1-D landscape")
    paths = _trajectories(trajectories, 2)
    bounds = _bounds(landscape, bounds)
    if ax is None:
        fig = plt.figure()
        ax = fig.add_subplot(projection="3d")
    elif ax.name != "3d":
        raise ValueError(f"ax must be a 3-D Axes (fig.add_subplot(projection='3d')); got a {ax.name!r} Axes")
    X, Y, Z = landscape.grid(resolution, bounds)
    ax.plot_surface(X, Y, Z, cmap=cmap, alpha=0.75, linewidth=0)
    (x0, x1), (y0, y1) = bounds
    for label, path in paths.items():
        inside = (path[:, 0] >= x0) & (path[:, 0] <= x1) & (path[:, 1] >= y0) & (path[:, 1] <= y1)
        path = np.where(inside[:, None], path, np.nan)
        ax.plot(path[:, 0], path[:, 1], landscape.value(path.T), "-o", ms=2.5, lw=1.5, label=label, zorder=10)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.view_init(elev=elev, azim=azim)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("f(x, y)")
    _finish(ax, _title(landscape, title))
    return ax.figure


def loss_curves(curves, *, ax=None, log=True, xlabel="step", ylabel="loss", title=None, floor=1e-16):
    """Loss against step for one curve (a sequence) or several (a dict label -> sequence).

    On the log scale (the default) values below `floor` (an exact 0 after
    convergence) are drawn at `floor`; inf and NaN (a run that diverged) are left
    out, so the line stops where it blew up.
    """
    curves = _sequences(curves, "curves")
    fig, ax = _axes(ax)
    for label, y in curves.items():
        y = np.where(np.isfinite(y), y, np.nan)
        if log:
            if np.nanmin(y, initial=np.inf) < 0:
                raise ValueError(f"curves[{label!r}] has negative values (min {np.nanmin(y):g}), "
                                 "which a log scale cannot show; pass log=False")
            y = np.maximum(y, floor)
        ax.plot(np.arange(len(y)), y, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _finish(ax, title)
    return fig


def schedule(schedules, total_steps=None, *, ax=None, log=False, xlabel="step",
             ylabel="learning rate", title=None):
    """Learning rate against step for one schedule or a dict label -> schedule.

    A schedule is a callable `step -> lr` (step 0 is the first update), evaluated
    for steps 0 .. total_steps − 1, or a sequence of learning rates (cut to
    total_steps when given).
    """
    if callable(schedules) or not isinstance(schedules, dict):
        schedules = {None: schedules}
    if total_steps is not None and (not _is_int(total_steps) or total_steps < 1):
        raise ValueError(f"total_steps must be a positive int; got {total_steps!r}")
    lrs = {}
    for label, sched in schedules.items():
        if callable(sched):
            if total_steps is None:
                raise ValueError(f"total_steps is needed to evaluate the callable schedule {label!r}; "
                                 "pass the number of updates, e.g. total_steps=100")
            lrs[label] = [float(sched(step)) for step in range(total_steps)]
        else:
            lrs[label] = sched if total_steps is None else list(sched)[:total_steps]
    fig, ax = _axes(ax)
    for label, y in _sequences(lrs, "schedules").items():
        ax.plot(np.arange(len(y)), y, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    _finish(ax, title)
    return fig


def animate(landscape, trajectories, *, interval=80, frames=None, levels=30, log_levels=None,
            title=None, bounds=None, aspect="equal", figsize=(6, 4.5)):
    """Trajectories moving over the contour of a 2-D landscape, one frame per few steps.

    Long trajectories are subsampled to `frames` frames (default
    min(steps + 1, 60), at most 100) so the animation renders fast on a laptop CPU.
    The figure is closed so that Jupyter does not also show it as a still image;
    show the animation with `IPython.display.HTML(anim.to_jshtml())`.
    `figsize` (inches, at 80 dpi) should follow the shape of `bounds`: a wide,
    flat region in a 4:3 frame with aspect="equal" leaves most of it empty.
    """
    _require_dim(landscape, 2, "animate", "use plots.curve for a 1-D landscape")
    try:
        width, height = (float(v) for v in figsize)
    except (TypeError, ValueError):
        width = height = float("nan")
    if not (0 < width <= 20 and 0 < height <= 20):
        raise ValueError(f"figsize must be (width, height) in inches, each in (0, 20]; got {figsize!r}")
    paths = _trajectories(trajectories, 2)
    if not paths:
        raise ValueError("trajectories must hold at least one trajectory to animate; got none")
    longest = max(len(path) for path in paths.values())
    if frames is None:
        frames = min(longest, DEFAULT_FRAMES)
    elif not _is_int(frames) or not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be an int from 1 to {MAX_FRAMES}; got {frames!r}")
    steps = np.unique(np.linspace(0, longest - 1, frames).round().astype(int))

    # Frame size is what makes jshtml heavy (each frame is a PNG): keep it small.
    fig, ax = plt.subplots(figsize=(width, height), dpi=80, layout="constrained")
    _draw_landscape(ax, landscape, levels, log_levels, bounds, 200, aspect)
    moving = []
    for label, path in paths.items():
        line, = ax.plot([], [], "-", lw=1.5, label=label)
        head, = ax.plot([], [], "o", ms=7, color=line.get_color(), label="_head")
        ax.plot(*path[0], "o", ms=7, mfc="white", mec=line.get_color(), label="_start")
        moving.append((path, line, head))
    clock = ax.text(0.02, 0.97, "", transform=ax.transAxes, va="top")
    _finish(ax, _title(landscape, title), outside=True)
    fig.draw_without_rendering()  # lay out once, not again for every frame
    fig.set_layout_engine("none")

    def draw(frame):
        step = steps[frame]
        for path, line, head in moving:
            t = min(step, len(path) - 1)  # a shorter trajectory stays at its end
            line.set_data(path[: t + 1, 0], path[: t + 1, 1])
            head.set_data(path[t : t + 1, 0], path[t : t + 1, 1])
        clock.set_text(f"step {step}")
        return [artist for _, line, head in moving for artist in (line, head)] + [clock]

    anim = _DescribedAnimation(fig, draw, frames=len(steps), interval=interval)
    plt.close(fig)
    return anim


class _DescribedAnimation(FuncAnimation):
    """A FuncAnimation whose HTML player image carries alt text, like figures do."""

    def to_jshtml(self, *args, **kwargs):
        from html import escape
        alt = escape("Animation. " + describe(self._fig), quote=True)
        return super().to_jshtml(*args, **kwargs).replace("<img id=", f'<img alt="{alt}" id=', 1)


def lines(curves, x=None, *, ax=None, xlog=False, ylog=False, xlabel="step", ylabel=None,
          title=None, styles=None):
    """Several curves over one shared x axis: a dict label -> sequence (or one sequence).

    `x` gives the abscissae (default 0, 1, 2, ...) and must be as long as every
    curve. inf and NaN leave a gap. On a log axis (`xlog`, `ylog`) zeros are left
    out (a log scale has no 0) and negative values raise. `styles` maps a label to
    extra line options, e.g. {"true g": {"linestyle": "--", "color": "black"}}.
    """
    curves = _sequences(curves, "curves")
    length = len(next(iter(curves.values())))
    xs = np.arange(length, dtype=float) if x is None else np.asarray(x, dtype=float)
    if xs.ndim != 1:
        raise ValueError(f"x must be a 1-D sequence; got shape {xs.shape}")
    if xlog:
        xs = _log_ready(xs, "x")
    styles = {} if styles is None else styles
    unknown = sorted(set(styles) - set(curves), key=str)
    if unknown:
        raise ValueError(f"styles has label {unknown[0]!r}, which is not one of the curves "
                         f"{list(curves)}")
    fig, ax = _axes(ax)
    for label, y in curves.items():
        if len(y) != len(xs):
            raise ValueError(f"curves[{label!r}] has {len(y)} values but x has {len(xs)}; "
                             "they must be equally long")
        y = np.where(np.isfinite(y), y, np.nan)
        if ylog:
            y = _log_ready(y, f"curves[{label!r}]")
        ax.plot(xs, y, label=label, **styles.get(label, {}))
    if xlog:
        ax.set_xscale("log")
    if ylog:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    _finish(ax, title)
    return fig


def lr_range_test(result, *, ax=None, title="learning-rate range test"):
    """The result of `schedules.lr_range_test`: smoothed loss against learning rate (log x).

    Marks the learning rate where the smoothed loss is lowest (lr_min, ●) and the
    suggested one (`result.suggestion`, dashed), each with its value in the legend.
    `result` is anything with `lrs`, `losses` (equally long) and `suggestion`.
    """
    lrs = np.asarray(getattr(result, "lrs", None), dtype=float)
    losses = np.asarray(getattr(result, "losses", None), dtype=float)
    if lrs.ndim != 1 or len(lrs) == 0 or lrs.shape != losses.shape:
        raise ValueError("result must have 1-D `lrs` and `losses` of the same, non-zero length; "
                         f"got shapes {lrs.shape} and {losses.shape}")
    if np.any(lrs <= 0) or not np.all(np.isfinite(losses)):
        raise ValueError("result.lrs must be positive and result.losses finite "
                         "(as schedules.lr_range_test returns them)")
    suggestion = float(result.suggestion)
    fig, ax = _axes(ax)
    ax.plot(lrs, losses, color="0.25", label="smoothed loss")
    best = int(np.argmin(losses))
    ax.plot(lrs[best], losses[best], "o", color="crimson", ms=8,
            label=f"loss minimum: lr_min = {lrs[best]:.3g}")
    ax.axvline(lrs[best], color="crimson", lw=1, linestyle=":")
    ax.axvline(suggestion, color="tab:green", lw=2, linestyle="--",
               label=f"suggestion: lr_min/10 = {suggestion:.3g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("smoothed training loss")
    ax.grid(alpha=0.3)
    _finish(ax, title)
    return fig


def annotated_table(values, *, text=None, fmt="{:.3g}", missing="—", log=False, highlight=None,
                    ax=None, title=None, colorbar_label=None, cmap="viridis_r"):
    """A table as a coloured grid with each value written in its cell.

    `values` maps a row label to {column label: number or None}; None (no
    value: an optimizer that never got there, a framework without a built-in)
    is drawn grey with the text `missing`. Colours follow the values, on a log
    scale with `log=True` (values must then be positive). `text` (same shape)
    replaces the written text of any cell, e.g. to add the learning rate under
    a step count. `highlight="min"` or `"max"` writes each column's best value
    in bold. `fmt` is a format string or a function of the value.
    """
    if not isinstance(values, dict) or not values:
        raise ValueError("values must be a non-empty dict: row label -> {column label: value}")
    if highlight not in (None, "min", "max"):
        raise ValueError(f"highlight must be None, 'min' or 'max'; got {highlight!r}")
    rows = list(values)
    columns = list(dict.fromkeys(c for row in values.values() for c in row))
    grid = np.full((len(rows), len(columns)), np.nan)
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            v = values[r].get(c)
            grid[i, j] = np.nan if v is None else float(v)
    if log and np.any(grid[np.isfinite(grid)] <= 0):
        raise ValueError("log=True needs positive values; got "
                         f"{grid[np.isfinite(grid)].min():g} (pass log=False)")
    text = {} if text is None else text
    formatter = fmt if callable(fmt) else fmt.format
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(1.2 + 1.25 * len(columns), 0.9 + 0.42 * len(rows)),
                               layout="constrained")
    fig = ax.figure
    shown = np.ma.masked_invalid(grid)
    finite = grid[np.isfinite(grid)]
    norm = None
    if log and finite.size:
        from matplotlib.colors import LogNorm
        norm = LogNorm(finite.min(), max(finite.max(), finite.min() * 10))
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.85")
    image = ax.imshow(shown, cmap=colormap, norm=norm, aspect="auto")
    best = {}
    if highlight and finite.size:
        pick = np.nanargmin if highlight == "min" else np.nanargmax
        best = {j: pick(grid[:, j]) for j in range(len(columns)) if np.isfinite(grid[:, j]).any()}
    for i, r in enumerate(rows):
        for j, c in enumerate(columns):
            value = grid[i, j]
            label = text.get(r, {}).get(c)
            if label is None:
                label = missing if np.isnan(value) else formatter(value)
            dark = np.isfinite(value) and _is_dark(image.cmap(image.norm(value)))
            ax.text(j, i, label, ha="center", va="center", fontsize="small",
                    color="white" if dark else "black",
                    fontweight="bold" if best.get(j) == i else "normal")
    ax.set_xticks(range(len(columns)), [str(c) for c in columns])
    ax.set_yticks(range(len(rows)), [str(r) for r in rows])
    ax.xaxis.tick_top()
    ax.tick_params(length=0)
    if finite.size:
        bar = fig.colorbar(image, ax=ax, shrink=0.8)
        if colorbar_label:
            bar.set_label(colorbar_label)
    if title:
        ax.set_title(title, fontsize="medium")
    return fig


def compare_runs(runs, keys=("val_loss", "val_accuracy"), *, x="epoch", log_losses=True,
                 styles=None, title=None):
    """Training runs side by side: one panel per key, one line per run.

    `runs` maps a label to a `History` (or any mapping key -> list of values
    per epoch). Panels of losses (keys ending in "loss") use a log scale when
    `log_losses` and every value is positive. `styles` maps a run label to line
    options, e.g. a dashed baseline.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict: label -> History")
    if isinstance(keys, str) or not keys:
        raise ValueError(f"keys must be a non-empty sequence of column names; got {keys!r}")
    styles = {} if styles is None else styles
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys), 3.8), squeeze=False,
                             layout="constrained")
    for ax, key in zip(axes[0], keys):
        positive = True
        for label, run in runs.items():
            ys, xs = _column(run, key, label), _column(run, x, label)
            ys = np.asarray([np.nan if v is None else v for v in ys], dtype=float)
            positive &= bool(np.all(ys[np.isfinite(ys)] > 0))
            ax.plot(xs, ys, marker="o", ms=3, label=label, **styles.get(label, {}))
        if log_losses and key.endswith("loss") and positive:
            ax.set_yscale("log")
        ax.set_xlabel(x)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


# --- helpers -----------------------------------------------------------------


def _axes(ax):
    if ax is None:
        return plt.subplots(layout="constrained")
    return ax.figure, ax


def _is_int(n):
    return isinstance(n, (int, np.integer)) and not isinstance(n, bool)


def _require_dim(landscape, dim, function, hint):
    if getattr(landscape, "dim", None) != dim:
        name = getattr(landscape, "name", type(landscape).__name__)
        raise ValueError(f"{function}: landscape must be {dim}-D; got {name!r} with "
                         f"dim={getattr(landscape, 'dim', None)} ({hint})")


def _bounds(landscape, bounds):
    bounds = landscape.bounds if bounds is None else bounds
    array = np.asarray(bounds, dtype=float)
    if array.shape != (landscape.dim, 2) or not np.all(array[:, 0] < array[:, 1]):
        raise ValueError(f"bounds must be {landscape.dim} (low, high) pair(s) with low < high; got {bounds!r}")
    return [tuple(pair) for pair in array]


def _trajectories(trajectories, dim):
    """label -> float array (steps + 1, dim); one array becomes {'trajectory': array}."""
    if trajectories is None:
        return {}
    if not isinstance(trajectories, dict):
        trajectories = {"trajectory": trajectories}
    paths = {}
    for label, path in trajectories.items():
        path = np.asarray(path, dtype=float)
        if dim == 1 and path.ndim == 1:
            path = path[:, None]
        if path.ndim != 2 or path.shape[1] != dim or len(path) == 0:
            raise ValueError(f"trajectories[{label!r}] must have shape (steps + 1, {dim}) for a "
                             f"{dim}-D landscape; got shape {path.shape}")
        paths[label] = path
    return paths


def _sequences(curves, name):
    """label -> 1-D float array; a single sequence gets the label None (no legend)."""
    if not isinstance(curves, dict):
        curves = {None: curves}
    if not curves:
        raise ValueError(f"{name} must hold at least one sequence; got an empty dict")
    out = {}
    for label, y in curves.items():
        y = np.asarray(y, dtype=float)
        if y.ndim != 1 or len(y) == 0:
            raise ValueError(f"{name}[{label!r}] must be a non-empty 1-D sequence of values; got shape {y.shape}")
        out[label] = y
    return out


def _levels(Z, levels, log_levels):
    if not _is_int(levels):
        levels = np.asarray(levels, dtype=float)
        if levels.ndim != 1 or len(levels) < 2 or np.any(np.diff(levels) <= 0):
            raise ValueError(f"levels must be an int >= 2 or an increasing sequence of values; got {levels!r}")
        return levels
    if levels < 2:
        raise ValueError(f"levels must be an int >= 2 or an increasing sequence of values; got {levels!r}")
    low, span = Z.min(), np.ptp(Z)
    if log_levels:
        return low + np.geomspace(1e-5 * span, span, levels)
    return np.linspace(low, low + span, levels)


def _draw_landscape(ax, landscape, levels, log_levels, bounds, resolution, aspect):
    bounds = _bounds(landscape, bounds)
    X, Y, Z = landscape.grid(resolution, bounds)
    levels = _levels(Z, levels, bool(landscape.minima) if log_levels is None else log_levels)
    # Filled bands, coloured by rank rather than value so that log-spaced levels get
    # the whole colour map; flat bands also keep animation frames small as PNGs.
    colors = plt.get_cmap("viridis")(np.linspace(0, 1, len(levels) - 1))
    colors = 0.45 + 0.55 * colors  # paler, so trajectories stand out; opaque, so no seams
    ax.contourf(X, Y, Z, levels=levels, colors=colors)
    _mark_points(ax, landscape.minima, "*", "minimum", "minima")
    _mark_points(ax, landscape.saddle_points, "X", "saddle point", "saddle points")
    ax.set_xlim(bounds[0])
    ax.set_ylim(bounds[1])
    ax.set_aspect(aspect)
    ax.set_xlabel("x")
    ax.set_ylabel("y")


def _mark_points(ax, points, marker, label, plural):
    if len(points):
        points = np.asarray(points, dtype=float)
        ax.plot(points[:, 0], points[:, 1], marker, color="crimson", ms=13, mec="white",
                linestyle="none", label=label if len(points) == 1 else plural, zorder=5)


def _ends(ax, start, end, color):
    ax.plot(*start, "o", ms=8, color=color, mfc="white", mec=color, mew=2, label="_start", zorder=6)
    ax.plot(*end, "s", ms=7, color=color, label="_end", zorder=6)


def _end_legend_entries(ax):
    # One black "start"/"end" legend entry explains the markers of every trajectory.
    ax.plot([], [], "o", ms=8, mfc="white", mec="black", mew=2, linestyle="none", label="start")
    ax.plot([], [], "s", ms=7, color="black", linestyle="none", label="end")


def _title(landscape, title):
    return f"{landscape.name}: ${landscape.formula}$" if title is None else title


def _finish(ax, title, outside=False):
    if title:
        ax.set_title(title, fontsize="medium")
    if not ax.get_legend_handles_labels()[1]:  # labels starting with "_" are left out
        return
    if outside:  # a legend inside a landscape could hide one of its minima
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    else:
        ax.legend(fontsize="small")


def _log_ready(values, name):
    """Values for a log axis: negatives raise, zeros become NaN (not drawn)."""
    if np.nanmin(values, initial=np.inf) < 0:
        raise ValueError(f"{name} has negative values (min {np.nanmin(values):g}), which a log "
                         "scale cannot show; use a linear axis")
    return np.where(values > 0, values, np.nan)


def _is_dark(rgba):
    r, g, b = rgba[:3]
    return 0.299 * r + 0.587 * g + 0.114 * b < 0.5


def _column(run, key, label):
    try:
        column = run[key]
    except (KeyError, IndexError, TypeError):
        column = None
    if column is None:
        have = getattr(run, "keys", None)
        have = have() if callable(have) else have
        raise ValueError(f"runs[{label!r}] has no {key!r} column; it has {list(have or [])}")
    return list(column)


def describe(fig):
    """Alt text for `fig`, read from what it shows: its title and, per panel,
    the title and axis labels ("Figure: … Panel 1: loss vs step, log scale")."""
    parts = []
    title = fig._suptitle.get_text() if getattr(fig, "_suptitle", None) else ""
    panels = [ax for ax in fig.axes if ax.get_label() != "<colorbar>"]
    for k, ax in enumerate(panels, start=1):
        xlabel, ylabel = ax.get_xlabel(), ax.get_ylabel()
        words = ax.get_title() or ""
        if ylabel or xlabel:
            words += f" ({ylabel or 'value'} vs {xlabel or 'x'}"
            words += ", log scale)" if ax.get_yscale() == "log" else ")"
        legend = ax.get_legend()
        if legend is not None:
            labels = [t.get_text() for t in legend.get_texts()][:6]
            words += "; lines: " + ", ".join(labels)
        if words.strip():
            parts.append(f"Panel {k}: {words.strip()}" if len(panels) > 1 else words.strip())
    text = "; ".join(p for p in [title] + parts if p) or "a figure with no title or labels"
    return "Figure: " + (text if len(text) <= 300 else text[:297] + "...")


def _with_alt_text(png_formatter):
    """Wrap Jupyter's PNG formatter for Figures so each image carries alt text
    (IPython formatters may return (data, metadata); nbconvert writes `alt`)."""
    if getattr(png_formatter, "adds_alt_text", False):
        return png_formatter

    def formatter(fig, *args, **kwargs):
        result = png_formatter(fig, *args, **kwargs)
        if result is None:
            return None
        data, metadata = result if isinstance(result, tuple) else (result, {})
        return data, {**(metadata or {}), "alt": describe(fig)}

    formatter.adds_alt_text = True
    return formatter


def _show_alt_text_in_jupyter():
    """Idempotent: wrap the PNG formatter of Figures once the inline backend has
    registered it (matplotlib loads the backend lazily, at the first figure)."""
    try:
        from IPython import get_ipython
        from matplotlib.figure import Figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    png = shell.display_formatter.formatters["image/png"]
    try:
        current = png.lookup_by_type(Figure)
    except KeyError:  # the backend is not loaded yet, or figures are not PNGs here
        return
    png.for_type(Figure, _with_alt_text(current))


def _keep_alt_text_on():
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or getattr(shell, "_lessons_alt_text", False):
        return
    shell._lessons_alt_text = True
    # Registered now, so it runs before the inline backend's own post_execute
    # hook that shows the cell's figures.
    shell.events.register("post_execute", _show_alt_text_in_jupyter)
    _show_alt_text_in_jupyter()


_keep_alt_text_on()


# --- lessons 04–07: maps and seeded races --------------------------------------


def rate_map(lrs, betas, rates, *, curves=None, ax=None, title=None):
    """A convergence-rate heatmap over a grid of learning rates × momenta.

    `rates` has shape (len(betas), len(lrs)); values ≥ 1 (divergence) are drawn in
    grey. `curves` maps a label to (lr values, β values), e.g. the critical-damping
    curve, drawn over the map; a white star marks the grid's fastest cell.
    """
    lrs, betas, rates = (np.asarray(a, dtype=float) for a in (lrs, betas, rates))
    if rates.shape != (betas.size, lrs.size):
        raise ValueError(f"rates must have shape (len(betas), len(lrs)) = "
                         f"{(betas.size, lrs.size)}; got {rates.shape}")
    fig, ax = _axes(ax)
    shown = np.ma.masked_where(~(rates < 1), rates)
    cmap = plt.get_cmap("viridis").with_extremes(bad="0.8")
    mesh = ax.pcolormesh(lrs, betas, shown, cmap=cmap, vmin=float(np.nanmin(rates)), vmax=1.0,
                         shading="nearest")
    fig.colorbar(mesh, ax=ax, label="rate per step (grey: diverges)")
    for label, (x, y) in (curves or {}).items():
        ax.plot(x, y, lw=2, label=label)
    row, col = np.unravel_index(np.nanargmin(rates), rates.shape)
    ax.plot(lrs[col], betas[row], "w*", ms=14, mec="black",
            label=f"fastest: rate {rates[row, col]:.3f}")
    ax.set(xlabel="learning rate η", ylabel="momentum β", xlim=(lrs[0], lrs[-1]),
           ylim=(betas[0], betas[-1]))
    _finish(ax, title)
    return fig


def seeded_runs(runs, keys=("train_loss", "val_loss"), *, x=None, title=None, log=True):
    """Mean ± one standard deviation over seeds: one panel per key, one band per run.

    `runs` maps a label to {key: array of shape (seeds, epochs)}. The legend sits
    outside the panels, so it never covers the data.
    """
    if not isinstance(runs, dict) or not runs:
        raise ValueError("runs must be a non-empty dict: label -> {key: (seeds, epochs) array}")
    fig, axes = plt.subplots(1, len(keys), figsize=(5 * len(keys) + 2, 3.8), squeeze=False,
                             layout="constrained")
    for ax, key in zip(axes[0], keys):
        for label, run in runs.items():
            values = np.atleast_2d(np.asarray(run[key], dtype=float))
            mean, std = values.mean(axis=0), values.std(axis=0)
            xs = np.arange(1, mean.size + 1) if x is None else np.asarray(x)
            line, = ax.plot(xs, mean, marker="o", ms=3, label=label)
            ax.fill_between(xs, mean - std, mean + std, color=line.get_color(), alpha=0.2)
        if log:
            ax.set_yscale("log")
        ax.set(xlabel="epoch", ylabel=f"{key} (mean ± std)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), fontsize="small")
    if title:
        fig.suptitle(title)
    return fig


def lookahead_diagram(landscape, x, v, lr, beta, *, ax=None, title=None, bounds=None):
    """One step of the heavy ball and of Nesterov from the same point x and velocity v.

    Heavy ball: x + βv − η∇f(x) (the gradient where the ball *is*). Nesterov:
    x + βv − η∇f(x + βv) (the gradient where momentum is about to carry it). Arrows:
    the momentum βv, each gradient step, and the two resulting points.
    """
    x, v = np.asarray(x, dtype=float), np.asarray(v, dtype=float)
    ahead = x + beta * v
    steps = {"heavy ball: −η∇f(x)": (ahead, -lr * landscape.grad(x), "tab:blue"),
             "Nesterov: −η∇f(x + βv)": (ahead, -lr * landscape.grad(ahead), "tab:orange")}
    points = [x, ahead] + [start + d for start, d, _ in steps.values()]
    if bounds is None:
        low, high = np.min(points, axis=0), np.max(points, axis=0)
        pad = 0.25 * np.maximum(high - low, 1e-3)
        bounds = list(zip(low - pad, high + pad))
    fig, ax = _axes(ax)
    _draw_landscape(ax, landscape, 20, None, bounds, 200, "auto")

    def arrow(start, delta, color, label):
        ax.annotate("", start + delta, start, arrowprops=dict(arrowstyle="-|>", color=color,
                                                               lw=2))
        ax.plot([], [], color=color, lw=2, label=label)
    arrow(x, beta * v, "black", "momentum βv")
    for label, (start, delta, color) in steps.items():
        arrow(start, delta, color, label)
    ax.plot(*x, "ko", ms=6)
    ax.plot(*ahead, "o", color="tab:orange", mfc="white", ms=7, label="look-ahead x + βv")
    _finish(ax, title, outside=True)
    return fig
