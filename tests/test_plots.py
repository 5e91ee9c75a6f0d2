"""Plots: what each function draws, scales and limits, animation size, bad input."""
import gc
import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.animation import FuncAnimation  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lessons_lib import plots  # noqa: E402
from lessons_lib.landscapes import REGISTRY  # noqa: E402

ROSENBROCK, QUADRATIC = REGISTRY["rosenbrock"], REGISTRY["quadratic"]


def descent(f, x0, lr, steps):
    """Plain gradient descent, written here so the tests do not depend on optim."""
    path = [np.asarray(x0, dtype=float)]
    for _ in range(steps):
        path.append(path[-1] - lr * f.grad(path[-1]))
    return np.array(path)


def lines(ax):
    return {line.get_label(): line for line in ax.get_lines()}


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


# --- contour -------------------------------------------------------------------


def test_contour_draws_each_trajectory_with_its_label_and_marks_the_minimum():
    paths = {"lr 1e-3": descent(ROSENBROCK, [-1.5, 2], 1e-3, 50),
             "lr 2e-3": descent(ROSENBROCK, [-1.5, 2], 2e-3, 30)}
    fig = plots.contour(ROSENBROCK, paths)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    drawn = lines(ax)
    for label, path in paths.items():
        np.testing.assert_array_equal(np.column_stack(drawn[label].get_data()), path)
    np.testing.assert_array_equal(np.column_stack(drawn["minimum"].get_data()), [[1.0, 1.0]])
    assert legend_texts(ax) == ["minimum", "lr 1e-3", "lr 2e-3", "start", "end"]
    # Each trajectory also gets a start and an end marker in its own colour.
    starts = [l for l in ax.get_lines() if l.get_label() == "_start"]
    ends = [l for l in ax.get_lines() if l.get_label() == "_end"]
    assert len(starts) == len(ends) == 2
    np.testing.assert_array_equal(np.ravel(ends[1].get_data()), paths["lr 2e-3"][-1])
    assert ends[1].get_color() == drawn["lr 2e-3"].get_color()


def test_contour_covers_the_bounds_with_log_spaced_levels():
    ax = plots.contour(ROSENBROCK, levels=20).axes[0]
    assert ax.get_xlim() == (-2.0, 2.0) and ax.get_ylim() == (-1.0, 3.0)
    [filled] = ax.collections
    vertices = np.vstack([p.vertices for p in filled.get_paths() if len(p.vertices)])
    np.testing.assert_allclose(vertices.min(axis=0), [-2.0, -1.0])
    np.testing.assert_allclose(vertices.max(axis=0), [2.0, 3.0])
    levels = filled.levels
    assert len(levels) == 20
    # Log-spaced above the floor: the gaps between levels grow by a constant factor.
    gaps = np.diff(levels)
    np.testing.assert_allclose(gaps[1:] / gaps[:-1], gaps[1] / gaps[0], rtol=1e-6)
    assert gaps[1] / gaps[0] > 1.5


def test_contour_levels_are_even_for_a_saddle_or_when_asked():
    for ax in (plots.contour(REGISTRY["saddle"]).axes[0],
               plots.contour(ROSENBROCK, log_levels=False).axes[0]):
        levels = ax.collections[0].levels
        np.testing.assert_allclose(np.diff(levels), np.diff(levels)[0])


def test_contour_marks_every_minimum_and_the_saddle_point():
    ax = plots.contour(REGISTRY["himmelblau"]).axes[0]
    np.testing.assert_allclose(np.column_stack(lines(ax)["minima"].get_data()),
                               REGISTRY["himmelblau"].minima)
    ax = plots.contour(REGISTRY["saddle"]).axes[0]
    assert "minimum" not in lines(ax)
    np.testing.assert_array_equal(np.column_stack(lines(ax)["saddle point"].get_data()), [[0.0, 0.0]])


def test_contour_accepts_a_single_array_and_an_existing_axes():
    fig, (left, right) = plt.subplots(1, 2)
    path = descent(REGISTRY["ill_conditioned"], [-8, 2], 0.02, 20)
    assert plots.contour(REGISTRY["ill_conditioned"], path, ax=right, title="ravine") is fig
    assert not left.get_lines()
    assert "trajectory" in lines(right) and right.get_title() == "ravine"


def test_contour_keeps_the_bounds_when_a_trajectory_diverges():
    f = REGISTRY["ill_conditioned"]
    path = descent(f, [-8, 2], 2.5 / f.L, 40)
    assert np.abs(path[-1]).max() > 1e3
    ax = plots.contour(f, {"too large": path}).axes[0]
    assert ax.get_xlim() == f.bounds[0] and ax.get_ylim() == f.bounds[1]


def test_contour_title_shows_the_formula_and_renders():
    fig = plots.contour(REGISTRY["beale"])
    assert fig.axes[0].get_title() == f"beale: ${REGISTRY['beale'].formula}$"
    fig.canvas.draw()


@pytest.mark.parametrize("call, match", [
    (lambda: plots.contour(QUADRATIC), r"contour: landscape must be 2-D; got 'quadratic' with dim=1"),
    (lambda: plots.contour(ROSENBROCK, {"GD": np.zeros((5, 3))}),
     r"trajectories\['GD'\] must have shape \(steps \+ 1, 2\).*got shape \(5, 3\)"),
    (lambda: plots.contour(ROSENBROCK, np.zeros(5)), r"trajectories\['trajectory'\].*got shape \(5,\)"),
    (lambda: plots.contour(ROSENBROCK, bounds=[(1, 0), (0, 1)]), r"bounds must be 2 \(low, high\) pair"),
    (lambda: plots.contour(ROSENBROCK, levels=1), r"levels must be an int >= 2"),
    (lambda: plots.contour(ROSENBROCK, levels=[3.0, 2.0, 1.0]), r"levels must be .*increasing"),
])
def test_contour_rejects_bad_input_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --- curve and surface -----------------------------------------------------------


def test_curve_draws_the_iterates_on_the_parabola():
    path = descent(QUADRATIC, [2.5], 0.3, 8)
    fig = plots.curve(QUADRATIC, {"lr 0.3": path})
    ax = fig.axes[0]
    x, y = lines(ax)["lr 0.3"].get_data()
    np.testing.assert_allclose(x, path[:, 0])
    np.testing.assert_allclose(y, path[:, 0] ** 2)
    assert ax.get_xlim() == (-3.0, 3.0)
    assert legend_texts(ax) == ["minimum", "lr 0.3", "start", "end"]
    # A 1-D trajectory may also come as a flat sequence of x values.
    x_flat, _ = lines(plots.curve(QUADRATIC, path[:, 0]).axes[0])["trajectory"].get_data()
    np.testing.assert_allclose(x_flat, path[:, 0])


def test_curve_rejects_a_2d_landscape():
    with pytest.raises(ValueError, match=r"curve: landscape must be 1-D; got 'rosenbrock' with dim=2"):
        plots.curve(ROSENBROCK)


def test_surface_3d_draws_the_surface_and_the_trajectory_on_it():
    f = REGISTRY["himmelblau"]
    path = descent(f, [0.0, 0.0], 0.01, 20)
    outside = np.vstack([path, [[50.0, 50.0]]])
    fig = plots.surface_3d(f, {"GD": outside}, resolution=20)
    ax = fig.axes[0]
    assert ax.name == "3d" and len(ax.collections) == 1
    [line] = [l for l in ax.get_lines() if l.get_label() == "GD"]
    x, y, z = line.get_data_3d()
    np.testing.assert_allclose(z[:-1], [f.value(p) for p in path])
    assert np.isnan(x[-1]) and np.isnan(z[-1])  # the point outside the bounds is left out


def test_surface_3d_rejects_a_flat_axes():
    _, ax = plt.subplots()
    with pytest.raises(ValueError, match=r"ax must be a 3-D Axes .*got a 'rectilinear' Axes"):
        plots.surface_3d(ROSENBROCK, ax=ax)


# --- loss curves and schedules -----------------------------------------------------


def test_loss_curves_log_scale_with_zeros_clipped_and_divergence_cut():
    fig = plots.loss_curves({"converged": [1.0, 0.1, 0.0, 0.0], "diverged": [1.0, 1e3, np.inf, np.nan]})
    ax = fig.axes[0]
    assert ax.get_yscale() == "log"
    assert legend_texts(ax) == ["converged", "diverged"]
    np.testing.assert_array_equal(lines(ax)["converged"].get_ydata(), [1.0, 0.1, 1e-16, 1e-16])
    diverged = lines(ax)["diverged"].get_ydata()
    assert diverged[1] == 1e3 and np.isnan(diverged[2:]).all()
    fig.canvas.draw()


def test_loss_curves_linear_scale_single_sequence_without_legend():
    ax = plots.loss_curves([3.0, -1.0, 2.0], log=False, xlabel="epoch").axes[0]
    assert ax.get_yscale() == "linear" and ax.get_legend() is None and ax.get_xlabel() == "epoch"
    np.testing.assert_array_equal(ax.get_lines()[0].get_xdata(), [0, 1, 2])


@pytest.mark.parametrize("curves, match", [
    ({"a": [1.0, -0.5]}, r"curves\['a'\] has negative values.*log=False"),
    ({}, r"curves must hold at least one sequence"),
    ({"a": np.ones((2, 2))}, r"curves\['a'\] must be a non-empty 1-D sequence.*\(2, 2\)"),
])
def test_loss_curves_rejects_bad_input(curves, match):
    with pytest.raises(ValueError, match=match):
        plots.loss_curves(curves)


def test_schedule_evaluates_callables_from_step_zero_and_plots_sequences():
    def cosine(step):
        return 0.05 * (1 + math.cos(math.pi * step / 50))

    fig = plots.schedule({"cosine": cosine, "list": [0.1] * 10 + [0.01] * 80}, 50)
    ax = fig.axes[0]
    np.testing.assert_allclose(lines(ax)["cosine"].get_ydata(), [cosine(t) for t in range(50)])
    assert len(lines(ax)["list"].get_ydata()) == 50  # cut to total_steps
    assert legend_texts(ax) == ["cosine", "list"] and ax.get_yscale() == "linear"
    ax = plots.schedule([0.1, 0.05, 0.01], log=True).axes[0]
    assert ax.get_yscale() == "log" and ax.get_legend() is None


@pytest.mark.parametrize("total_steps, match", [
    (None, r"total_steps is needed to evaluate the callable schedule"),
    (0, r"total_steps must be a positive int; got 0"),
    (2.5, r"total_steps must be a positive int; got 2.5"),
])
def test_schedule_rejects_bad_total_steps(total_steps, match):
    with pytest.raises(ValueError, match=match):
        plots.schedule({"constant": lambda step: 0.1}, total_steps)


# --- animation --------------------------------------------------------------------


def frame_count(anim):
    return sum(1 for _ in anim.new_saved_frame_seq())


def test_animate_renders_html_with_every_frame_and_ends_on_the_whole_trajectory():
    short = descent(ROSENBROCK, [-1.5, 2], 1e-3, 6)
    long = descent(ROSENBROCK, [-1.5, 2], 2e-3, 30)
    anim = plots.animate(ROSENBROCK, {"short": short, "long": long}, frames=8)
    assert isinstance(anim, FuncAnimation)
    assert not plt.fignum_exists(anim._fig.number)  # closed: Jupyter shows no still copy
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 8
    drawn = lines(anim._fig.axes[0])
    np.testing.assert_array_equal(np.column_stack(drawn["long"].get_data()), long)
    np.testing.assert_array_equal(np.column_stack(drawn["short"].get_data()), short)
    heads = [np.ravel(l.get_data()) for l in anim._fig.axes[0].get_lines() if l.get_label() == "_head"]
    np.testing.assert_array_equal(heads, [short[-1], long[-1]])


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")  # counted, not rendered
def test_animate_subsamples_long_trajectories_to_a_bounded_frame_count():
    long = descent(ROSENBROCK, [-1.5, 2], 1e-3, 5000)
    assert frame_count(plots.animate(ROSENBROCK, long)) == plots.DEFAULT_FRAMES
    assert frame_count(plots.animate(ROSENBROCK, long, frames=plots.MAX_FRAMES)) == plots.MAX_FRAMES
    assert frame_count(plots.animate(ROSENBROCK, long[:11])) == 11
    gc.collect()  # collect the unrendered animations here, where their warning is expected


@pytest.mark.parametrize("kwargs, match", [
    ({"frames": plots.MAX_FRAMES + 1}, r"frames must be an int from 1 to 100; got 101"),
    ({"frames": 0}, r"frames must be an int from 1 to 100; got 0"),
    ({"trajectories": {}}, r"trajectories must hold at least one trajectory"),
    ({"trajectories": np.zeros((4, 1))}, r"trajectories\['trajectory'\] must have shape \(steps \+ 1, 2\)"),
    ({"figsize": (0, 3)}, r"figsize must be \(width, height\) in inches, each in \(0, 20\]; got \(0, 3\)"),
    ({"figsize": 5}, r"figsize must be \(width, height\)"),
])
def test_animate_rejects_bad_input(kwargs, match):
    kwargs = {"trajectories": np.zeros((4, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        plots.animate(ROSENBROCK, **kwargs)


def test_animate_rejects_a_1d_landscape():
    with pytest.raises(ValueError, match=r"animate: landscape must be 2-D; got 'quadratic'"):
        plots.animate(QUADRATIC, np.zeros((4, 1)))


# --- lines ---------------------------------------------------------------------------


def test_lines_draws_each_curve_over_the_shared_x_with_styles():
    x = np.array([1e-3, 1e-2, 1e-1, 1.0])
    fig = plots.lines({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, np.inf, 2.0, 1.0]}, x, xlog=True,
                      ylog=True, xlabel="gradient", ylabel="step", title="t",
                      styles={"b": {"linestyle": "--", "color": "black"}})
    ax = fig.axes[0]
    drawn = lines(ax)
    np.testing.assert_array_equal(drawn["a"].get_xdata(), x)
    assert np.isnan(drawn["b"].get_ydata()[1])  # inf leaves a gap
    assert drawn["b"].get_linestyle() == "--" and drawn["b"].get_color() == "black"
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_title()) == ("gradient", "step", "t")
    assert legend_texts(ax) == ["a", "b"]
    fig.canvas.draw()


def test_lines_default_x_counts_from_zero_and_zeros_vanish_on_a_log_axis():
    ax = plots.lines([0.0, 1.0, 10.0], ylog=True).axes[0]
    line = ax.get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2])
    assert np.isnan(line.get_ydata()[0]) and ax.get_legend() is None


@pytest.mark.parametrize("kwargs, match", [
    (dict(curves={"a": [1.0, 2.0]}, x=[1.0, 2.0, 3.0]), r"curves\['a'\] has 2 values but x has 3"),
    (dict(curves={"a": [1.0, -2.0]}, ylog=True), r"curves\['a'\] has negative values"),
    (dict(curves={"a": [1.0, 2.0]}, x=[-1.0, 2.0], xlog=True), r"x has negative values"),
    (dict(curves={"a": [1.0, 2.0]}, x=[[1.0, 2.0]]), r"x must be a 1-D sequence"),
    (dict(curves={"a": [1.0, 2.0]}, styles={"c": {}}), r"styles has label 'c'"),
    (dict(curves={}), r"curves must hold at least one sequence"),
])
def test_lines_rejects_bad_input_naming_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.lines(**kwargs)


# --- the learning-rate range test ------------------------------------------------------


class RangeResult:
    """What schedules.lr_range_test returns, built here so the test needs no training."""

    def __init__(self, lrs, losses, suggestion):
        self.lrs, self.losses, self.suggestion = lrs, losses, suggestion


def range_result():
    lrs = 1e-5 * 1e6 ** (np.arange(50) / 49)
    losses = 2.0 - np.exp(-((np.log10(lrs) + 1.0) ** 2))  # lowest at lr = 0.1
    return RangeResult(lrs, losses, float(lrs[np.argmin(losses)] / 10))


def test_lr_range_test_draws_loss_on_a_log_lr_axis_and_marks_minimum_and_suggestion():
    result = range_result()
    fig = plots.lr_range_test(result)
    ax = fig.axes[0]
    drawn = lines(ax)
    np.testing.assert_array_equal(drawn["smoothed loss"].get_xdata(), result.lrs)
    assert ax.get_xscale() == "log"
    best = result.lrs[np.argmin(result.losses)]
    [minimum] = [l for label, l in drawn.items() if label.startswith("loss minimum")]
    np.testing.assert_allclose(np.ravel(minimum.get_data()), [best, result.losses.min()])
    [suggestion] = [l for label, l in drawn.items() if label.startswith("suggestion")]
    assert suggestion.get_xdata()[0] == result.suggestion
    assert f"{result.suggestion:.3g}" in suggestion.get_label()
    assert any(f"{best:.3g}" in text for text in legend_texts(ax))
    fig.canvas.draw()


@pytest.mark.parametrize("result, match", [
    (RangeResult([1e-3, 1e-2], [1.0], 1e-4), r"same, non-zero length"),
    (RangeResult([], [], 1e-4), r"same, non-zero length"),
    (RangeResult([0.0, 1e-2], [1.0, 0.5], 1e-4), r"lrs must be positive"),
    (RangeResult([1e-3, 1e-2], [1.0, np.nan], 1e-4), r"losses finite"),
])
def test_lr_range_test_rejects_a_malformed_result(result, match):
    with pytest.raises(ValueError, match=match):
        plots.lr_range_test(result)


def test_lr_range_test_draws_the_real_result_of_schedules_lr_range_test():
    torch = pytest.importorskip("torch")
    from lessons_lib.schedules import lr_range_test

    torch.manual_seed(0)
    x = torch.randn(64, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    loader = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
    result = lr_range_test(torch.nn.Linear(3, 1), torch.nn.MSELoss(), loader, steps=40)
    ax = plots.lr_range_test(result).axes[0]
    assert len(lines(ax)["smoothed loss"].get_xdata()) == len(result.lrs)


# --- annotated table ---------------------------------------------------------------------


def cell_texts(ax):
    return {(round(t.get_position()[1]), round(t.get_position()[0])): t for t in ax.texts}


def test_annotated_table_writes_values_marks_missing_and_bolds_each_columns_best():
    values = {"sgd": {"rosenbrock": None, "beale": 527},
              "adam": {"rosenbrock": 706, "beale": 178},
              "momentum": {"beale": 316, "rosenbrock": 950}}
    text = {"adam": {"beale": "178\nη=3"}}
    fig = plots.annotated_table(values, text=text, fmt="{:.0f}", log=True, highlight="min",
                                title="race", colorbar_label="steps")
    ax = fig.axes[0]
    cells = cell_texts(ax)
    # rows in the given order, columns in first-seen order
    assert [t.get_text() for t in ax.get_yticklabels()] == ["sgd", "adam", "momentum"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["rosenbrock", "beale"]
    assert cells[(0, 0)].get_text() == "—" and cells[(2, 0)].get_text() == "950"
    assert cells[(1, 1)].get_text() == "178\nη=3"
    assert cells[(1, 1)].get_fontweight() == "bold" and cells[(1, 0)].get_fontweight() == "bold"
    assert cells[(0, 1)].get_fontweight() == "normal"
    image = ax.images[0]
    assert image.get_array().mask[0, 0]  # the missing cell is masked (drawn grey)
    assert type(image.norm).__name__ == "LogNorm"
    assert ax.get_title() == "race" and fig.axes[1].get_ylabel() == "steps"
    fig.canvas.draw()


def test_annotated_table_with_every_value_missing_and_a_callable_format():
    fig = plots.annotated_table({"adam": {"keras": None, "torch": 1e-17}},
                                fmt=lambda v: f"{v:.0e}", highlight="max")
    cells = cell_texts(fig.axes[0])
    assert cells[(0, 0)].get_text() == "—" and cells[(0, 1)].get_text() == "1e-17"
    fig = plots.annotated_table({"a": {"x": None}})
    assert len(fig.axes) == 1  # nothing to colour: no colour bar


@pytest.mark.parametrize("kwargs, match", [
    (dict(values={}), r"values must be a non-empty dict"),
    (dict(values=[1, 2]), r"values must be a non-empty dict"),
    (dict(values={"a": {"x": 0.0}}, log=True), r"log=True needs positive values"),
    (dict(values={"a": {"x": 1.0}}, highlight="best"), r"highlight must be None, 'min' or 'max'"),
])
def test_annotated_table_rejects_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        plots.annotated_table(**kwargs)


# --- comparing training runs ---------------------------------------------------------------


def test_compare_runs_one_panel_per_key_one_line_per_run():
    from lessons_lib.harness.history import History

    constant = History([{"epoch": 1, "val_loss": 1.0, "val_accuracy": 0.5},
                        {"epoch": 2, "val_loss": 0.5, "val_accuracy": 0.8}])
    cosine = {"epoch": [1, 2], "val_loss": [0.9, 0.3], "val_accuracy": [0.6, 0.9]}
    fig = plots.compare_runs({"constant": constant, "cosine": cosine},
                             styles={"constant": {"linestyle": "--"}}, title="schedules")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_ylabel() == "val_loss" and loss_ax.get_yscale() == "log"
    assert acc_ax.get_ylabel() == "val_accuracy" and acc_ax.get_yscale() == "linear"
    np.testing.assert_array_equal(lines(acc_ax)["cosine"].get_ydata(), [0.6, 0.9])
    np.testing.assert_array_equal(lines(loss_ax)["constant"].get_xdata(), [1, 2])
    assert lines(loss_ax)["constant"].get_linestyle() == "--"
    assert legend_texts(acc_ax) == ["constant", "cosine"]
    assert fig._suptitle.get_text() == "schedules"
    fig.canvas.draw()


def test_compare_runs_names_the_run_without_the_column():
    with pytest.raises(ValueError, match=r"runs\['b'\] has no 'val_accuracy' column; it has \['epoch', 'val_loss'\]"):
        plots.compare_runs({"a": {"epoch": [1], "val_loss": [1.0], "val_accuracy": [0.5]},
                            "b": {"epoch": [1], "val_loss": [1.0]}})
    with pytest.raises(ValueError, match=r"keys must be a non-empty sequence"):
        plots.compare_runs({"a": {"epoch": [1], "val_loss": [1.0]}}, keys="val_loss")
    with pytest.raises(ValueError, match=r"runs must be a non-empty dict"):
        plots.compare_runs({})


def test_each_trajectory_keeps_its_own_colour():
    """The start/end markers must not use up colours of the cycle."""
    f = REGISTRY["rosenbrock"]
    paths = {f"run {k}": np.array([[-1.0 + 0.1 * k, 1.0], [0.0, 0.5]]) for k in range(8)}
    fig = plots.contour(f, paths)
    colours = [line.get_color() for line in fig.axes[0].get_lines() if line.get_label() in paths]
    assert len(colours) == 8 and len(set(colours)) == 8
    plt.close(fig)


def test_the_animation_player_image_has_alt_text():
    anim = plots.animate(REGISTRY["rosenbrock"], {"sgd": np.zeros((5, 2))}, frames=2)
    html = anim.to_jshtml()
    assert '<img alt="Animation. Figure: rosenbrock' in html and html.count("<img ") == 1


@pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")  # measured, not rendered
def test_animate_figsize_sets_the_frame_in_inches_at_80_dpi():
    anim = plots.animate(ROSENBROCK, np.zeros((4, 2)), figsize=(7, 3.2))
    assert tuple(anim._fig.get_size_inches()) == (7, 3.2) and anim._fig.dpi == 80
    del anim
    gc.collect()  # here, where the unrendered animation's warning is expected


def test_plots_for_lessons_04_to_07():
    import matplotlib
    matplotlib.use("Agg")
    from lessons_lib import landscapes, studies
    lrs, betas = np.linspace(0.001, 0.08, 30), np.linspace(0, 0.99, 20)
    rates = studies.heavy_ball_rate(lrs[None, :], betas[:, None], [1.0, 50.0])
    fig = plots.rate_map(lrs, betas, rates, curves={"c": (lrs, studies.critical_beta(lrs, 1.0))})
    assert fig.axes[0].get_xlabel() == "learning rate η"
    with pytest.raises(ValueError, match="rates must have shape"):
        plots.rate_map(lrs, betas, rates.T)
    runs = {"a": {"train_loss": np.ones((3, 4)), "val_loss": np.full((3, 4), 2.0)}}
    fig = plots.seeded_runs(runs)
    assert len(fig.axes) == 2 and fig.axes[1].get_legend() is not None
    with pytest.raises(ValueError, match="runs"):
        plots.seeded_runs({})
    ravine = landscapes.REGISTRY["ill_conditioned"]
    fig = plots.lookahead_diagram(ravine, [-4.6, -0.3], [0.7, -1.6], 0.02, 0.9)
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "momentum βv" in labels and "Nesterov: −η∇f(x + βv)" in labels
    matplotlib.pyplot.close("all")
