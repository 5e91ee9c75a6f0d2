"""lessons_lib.explore: widget values set from Python redraw the figure with exactly
the data a direct computation gives; the static default needs no frontend."""
import base64

import numpy as np
import pytest

from lessons_lib import explore, landscapes, optim, publish, schedules


def line(ex, label, panel=0):
    [found] = [ln for ln in ex.figure.axes[panel].lines if ln.get_label() == label]
    return found.get_xydata()


def check_descent(ex, opt, f, x0, steps):
    path = optim.minimize(opt, f, x0, steps, stop_on_divergence=False)
    np.testing.assert_allclose(line(ex, opt.name, 0), path, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(ex.result, path)
    losses = line(ex, opt.name, 1)
    np.testing.assert_allclose(losses[:, 1], np.maximum(f.value(path.T), 1e-16), rtol=1e-12)


def test_gradient_descent_follows_the_lr_slider():
    ex = explore.gradient_descent()
    f = landscapes.REGISTRY["ill_conditioned"]
    check_descent(ex, optim.REGISTRY["sgd"](lr=0.02), f, [-8.0, 2.0], 60)
    ex.controls["lr"].value = 0.03
    check_descent(ex, optim.REGISTRY["sgd"](lr=0.03), f, [-8.0, 2.0], 60)
    assert not np.allclose(line(ex, "sgd"), optim.minimize(
        optim.REGISTRY["sgd"](lr=0.02), f, [-8.0, 2.0], 60))


def test_momentum_follows_lr_and_beta():
    ex = explore.momentum()
    ex.controls["lr"].value = 0.01
    ex.controls["beta"].value = 0.5
    opt = optim.REGISTRY["momentum"](lr=0.01, momentum=0.5)
    check_descent(ex, opt, landscapes.REGISTRY["ill_conditioned"], [-8.0, 2.0], 60)


def test_adam_follows_three_sliders():
    ex = explore.adam()
    ex.controls["lr"].value = 0.05
    ex.controls["beta1"].value = 0.8
    ex.controls["beta2"].value = 0.99
    opt = optim.REGISTRY["adam"](lr=0.05, betas=(0.8, 0.99))
    check_descent(ex, opt, landscapes.REGISTRY["rosenbrock"], [-1.5, 2.0], 300)


def test_schedule_follows_dropdown_peak_and_warmup():
    ex = explore.schedule(total_steps=200)
    ex.controls["schedule"].value = "exponential"
    ex.controls["lr"].value = 0.3
    ex.controls["warmup"].value = 25
    y = line(ex, "exponential")[:, 1]
    sched = schedules.get("exponential", lr=0.3, total_steps=175)
    expected = [0.3 * (t + 1) / 26 for t in range(25)] + [sched(t) for t in range(175)]
    np.testing.assert_allclose(y, expected, rtol=1e-12)
    assert ex.result == list(y)
    assert y.max() == pytest.approx(0.3) and ex.figure.axes[0].get_title().startswith("expo")


def test_every_schedule_in_the_dropdown_draws():
    ex = explore.schedule()
    assert set(ex.controls["schedule"].options) == set(schedules.REGISTRY)
    for name in schedules.REGISTRY:
        ex.controls["schedule"].value = name
        assert len(line(ex, name)) == 200


def test_static_default_needs_no_frontend():
    ex = explore.gradient_descent()
    data, metadata = ex._repr_mimebundle_()
    png = base64.b64decode(data["image/png"])
    assert png.startswith(b"\x89PNG") and data["text/plain"].startswith("Figure: ")
    assert metadata["image/png"]["alt"] == data["text/plain"]
    assert publish.WIDGET_VIEW in data  # a frontend with widgets shows the live widget
    # The Output widget holds the current figure as a PNG too, also without a kernel.
    ex.controls["lr"].value = 0.01
    [shown] = ex.output.outputs
    assert base64.b64decode(shown["data"]["image/png"]).startswith(b"\x89PNG")
    assert ex.default_png == data["image/png"]  # the static figure stays the default


@pytest.mark.parametrize("spec, words", [
    (explore.Log(0.0, 1.0, 0.1), "low > 0"),
    (explore.Log(1.0, 0.1, 0.5), "low < high"),
    ((0.0, 1.0, 2.0), "low ≤ value ≤ high"),
    ((0.0, float("nan"), 0.5), "finite numbers"),
    ([], "non-empty list"),
    ("fast", "Log(low, high, value)"),
])
def test_bad_ranges_are_named(spec, words):
    with pytest.raises(ValueError, match="lr") as error:
        explore.explore(lambda fig, lr: None, lr=spec)
    assert words in str(error.value)


def test_explore_needs_a_control():
    with pytest.raises(ValueError, match="at least one control"):
        explore.explore(lambda fig: None)
