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


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


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
])
def test_animate_rejects_bad_input(kwargs, match):
    kwargs = {"trajectories": np.zeros((4, 2)), **kwargs}
    with pytest.raises(ValueError, match=match):
        plots.animate(ROSENBROCK, **kwargs)


def test_animate_rejects_a_1d_landscape():
    with pytest.raises(ValueError, match=r"animate: landscape must be 2-D; got 'quadratic'"):
        plots.animate(QUADRATIC, np.zeros((4, 1)))
