r"""The measurements lessons 02–07 quote, one module per topic.

Each function runs a small, seeded experiment and returns the numbers (mostly as
a `lessons_lib.table.Table`), so a notebook prints, plots and asserts on what it
measures instead of pasting it in. Everything is re-exported here, so a lesson
writes `from lessons_lib import studies` and then `studies.lr_table(...)`:

    gradient_descent   02  step sizes on quadratics, lr_table, basins, saddles,
                           Newton / Jacobi / line search, vanishing gradients
    stochastic         03  mini-batch SGD on least squares: noise, batch size,
                           η per batch size, the noise ball
    momentum           04  Polyak's (η, β), steps ∝ κ vs √κ, the heavy ball's rate
    adaptive           05  noisy races, E[g²] vs curvature, first steps, Reddi's problem
    digits             06  optimizers raced on a real network, tuned, over seeds
    runs                   Run (what a NumPy training run records), train, tune_lr, trace

What is minimised lives in `lessons_lib.landscapes` (and lesson 01's least squares
in `lessons_lib.linear`); learning-rate and momentum schedules in `lessons_lib.schedules`.
"""
from .adaptive import first_steps, gradient_square_vs_curvature, noisy_convex_race, online_reddi
from .digits import digits_race, digits_run
from .gradient_descent import (classify_point, contraction, critical_learning_rates, descent,
                               descent_table, gradient_norms_through_depth, lr_table,
                               nearest_minimum, predicted_steps, saddle_escape,
                               where_descent_ends)
from .momentum import critical_beta, heavy_ball_rate, polyak, steps_vs_condition
from .runs import Run, Trace, trace, train, tune_lr
from .stochastic import (gradient_spread, least_squares_sgd, lr_per_batch_size, minibatch_runs,
                         noise_ball, stationary_excess)

__all__ = [
    "classify_point",
    "contraction",
    "critical_beta",
    "critical_learning_rates",
    "descent",
    "descent_table",
    "digits_race",
    "digits_run",
    "first_steps",
    "gradient_norms_through_depth",
    "gradient_spread",
    "gradient_square_vs_curvature",
    "heavy_ball_rate",
    "least_squares_sgd",
    "lr_per_batch_size",
    "lr_table",
    "minibatch_runs",
    "nearest_minimum",
    "noise_ball",
    "noisy_convex_race",
    "online_reddi",
    "polyak",
    "predicted_steps",
    "Run",
    "saddle_escape",
    "stationary_excess",
    "steps_vs_condition",
    "Trace",
    "trace",
    "train",
    "tune_lr",
    "where_descent_ends",
]
