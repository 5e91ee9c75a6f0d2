"""Hyperparameter tuning: one trial function, three searches, trials-to-target.

The trial is a plain function of a dict of hyperparameters,

    train_and_validate({"lr": 0.1, "momentum": 0.9}, epochs=3) -> validation loss

with no tuner in its signature: Optuna calls it here through `optuna_objective`,
and a distributed tuner (Ray Tune, a job array) can call the same function with
its own dict later. Progress is reported through an optional `report(epoch,
loss)` callback that may raise to stop the trial (Optuna's pruning).

The model is softmax regression (a one-layer network) on scikit-learn's digits,
trained with mini-batch SGD + momentum in NumPy: milliseconds per trial, and a
deterministic function of the hyperparameters and `seed` (the shuffling order).
"""
import math
import os
import sys
from functools import lru_cache

import numpy as np

DIVERGED = 10.0          # the loss a run that blew up reports (≈ 4× a guess, log 10)


@lru_cache(maxsize=4)
def digits_splits(seed=0):
    """(x_train, y_train, x_val, y_val, x_test, y_test): digits flattened to 64
    features; the course's train split cut into train (1077) and validation (360),
    the test split (360) kept apart for the end."""
    from . import data
    split = data.digits(seed=seed)
    x = split.x_train.reshape(len(split.x_train), -1).astype(np.float64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    val, train = order[:360], order[360:]
    x_test = split.x_test.reshape(len(split.x_test), -1).astype(np.float64)
    return (x[train], split.y_train[train], x[val], split.y_train[val],
            x_test, split.y_test)


def _cross_entropy(w, b, x, y):
    logits = x @ w + b
    logits -= logits.max(axis=1, keepdims=True)
    log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    return float(-log_p[np.arange(len(y)), y].mean())


def _adam(w, g, m, v, lr, beta1, beta2, eps, step):
    """One step of torch.optim.Adam: the new (w, m, v)."""
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat, v_hat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
    return w - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def train_and_validate(params, *, epochs=3, batch_size=64, seed=0, report=None,
                       evaluate_on="val"):
    """Train softmax regression with SGD at `params` and return the validation loss.

    params: "lr" (required), "momentum" (0), "weight_decay" (0, an L2 term added
    to the gradient, as torch.optim's `weight_decay`), "batch_size" (overrides the
    keyword), "optimizer" ("sgd", the default, or "adam": torch.optim.Adam's rule
    with "beta1" (0.9), "beta2" (0.999) and "eps" (1e-8); momentum is then unused). `report(epoch, val_loss)` is called after every
    epoch (epoch 1, 2, ...) and may raise to stop the trial. `evaluate_on="test"`
    returns the test loss instead: for the one final measurement only.
    A run that overflows returns DIVERGED.
    """
    lr = float(params["lr"])
    beta = float(params.get("momentum", 0.0))
    decay = float(params.get("weight_decay", 0.0))
    batch_size = int(params.get("batch_size", batch_size))
    method = params.get("optimizer", "sgd")
    if method not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam'; got {method!r}")
    beta1, beta2 = float(params.get("beta1", 0.9)), float(params.get("beta2", 0.999))
    eps = float(params.get("eps", 1e-8))
    x, y, x_val, y_val, x_test, y_test = digits_splits()
    if evaluate_on == "test":
        x_val, y_val = x_test, y_test
    w, b = np.zeros((x.shape[1], 10)), np.zeros(10)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    sw, sb = np.zeros_like(w), np.zeros_like(b)      # Adam's second moments
    step = 0
    onehot = np.eye(10)[y]
    rng = np.random.default_rng(seed)
    loss = DIVERGED
    with np.errstate(all="ignore"):
        for epoch in range(1, epochs + 1):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch_size):
                idx = order[start:start + batch_size]
                logits = x[idx] @ w + b
                logits -= logits.max(axis=1, keepdims=True)
                p = np.exp(logits)
                p /= p.sum(axis=1, keepdims=True)
                g = (p - onehot[idx]) / len(idx)
                gw, gb = x[idx].T @ g + decay * w, g.sum(axis=0)
                if method == "adam":
                    step += 1
                    w, vw, sw = _adam(w, gw, vw, sw, lr, beta1, beta2, eps, step)
                    b, vb, sb = _adam(b, gb, vb, sb, lr, beta1, beta2, eps, step)
                    continue
                vw, vb = beta * vw + gw, beta * vb + gb      # torch's momentum buffer
                w, b = w - lr * vw, b - lr * vb
            loss = _cross_entropy(w, b, x_val, y_val)
            if not math.isfinite(loss) or loss > DIVERGED:
                loss = DIVERGED
            if report is not None:
                report(epoch, loss)
            if loss == DIVERGED:
                break
    return loss


# -- Optuna ------------------------------------------------------------------------

def _optuna():
    try:
        import optuna
    except ImportError as error:     # Colab: only lessons_lib is installed with --no-deps
        raise ImportError("lessons_lib.tuning needs Optuna: `%pip install optuna` "
                          "(on Colab), or `pip install lessons_lib[tuning]`") from error
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


SPACE = {"lr": (1e-4, 10.0, "log")}   # name -> (low, high, "log" | "linear")


def suggest(trial, space):
    """The trial's hyperparameters drawn from `space` (name -> (low, high, scale))."""
    return {name: trial.suggest_float(name, low, high, log=(scale == "log"))
            for name, (low, high, scale) in space.items()}


def optuna_objective(space=None, *, params=None, trial_function=train_and_validate,
                     **options):
    """An Optuna objective: draws from `space`, adds the fixed hyperparameters
    `params`, calls `trial_function(params, report=..., **options)`; each epoch's loss goes to `trial.report`, and a trial
    the pruner stops raises `optuna.TrialPruned`. The trial's `user_attrs["epochs"]`
    counts the epochs it ran (the cost)."""
    optuna = _optuna()
    space = SPACE if space is None else space

    def objective(trial):
        def report(epoch, loss):
            trial.set_user_attr("epochs", epoch)
            trial.report(loss, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        drawn = {**(params or {}), **suggest(trial, space)}
        return trial_function(drawn, report=report, **options)
    return objective


def grid_points(space, per_axis):
    """The grid: `per_axis` values per dimension, evenly spaced (in log for "log")."""
    points = {}
    for name, (low, high, scale) in space.items():
        values = np.geomspace(low, high, per_axis) if scale == "log" else \
            np.linspace(low, high, per_axis)
        points[name] = [float(v) for v in values]
    return points


def make_sampler(method, *, seed, space=None, budget=None):
    """An Optuna sampler: "grid" (a grid of `budget` points, visited in a seeded
    random order), "random" or "tpe"."""
    optuna = _optuna()
    space = SPACE if space is None else space
    if method == "grid":
        per_axis = max(2, round(budget ** (1 / len(space))))
        return optuna.samplers.GridSampler(grid_points(space, per_axis), seed=seed)
    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if method == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    raise ValueError(f"method must be 'grid', 'random' or 'tpe'; got {method!r}")


def search(method, *, budget, seed=0, space=None, pruner=None, **fixed):
    """Run one search of `budget` trials: the finished Optuna study. `fixed`:
    `params` (fixed hyperparameters) and options of the trial function."""
    optuna = _optuna()
    space = SPACE if space is None else space
    study = optuna.create_study(sampler=make_sampler(method, seed=seed, space=space,
                                                     budget=budget), pruner=pruner)
    study.optimize(optuna_objective(space, **fixed), n_trials=budget)
    return study


def values(study):
    """The trials' values in order; a trial that did not complete (pruned: Optuna
    keeps its last intermediate loss as its value) counts as +inf."""
    return np.array([t.value if t.state.name == "COMPLETE" else np.inf
                     for t in study.trials])


def trials_to_target(losses, target):
    """1 + the index of the first loss at or below `target`; None if none is."""
    hits = np.flatnonzero(np.asarray(losses, dtype=float) <= target)
    return int(hits[0]) + 1 if hits.size else None


def trials_to_target_table(methods, *, budget, target, seeds, space=None, **fixed):
    """For each method, the trials each seeded search needed to reach `target`:
    a Table with median, quartiles and how many searches got there in `budget`
    (a search that never did counts as budget + 1 in the statistics)."""
    from .table import Table
    rows, raw = [], {}
    for method in methods:
        counts = [trials_to_target(values(search(method, budget=budget, seed=s,
                                                 space=space, **fixed)), target)
                  for s in seeds]
        raw[method] = counts
        filled = np.array([budget + 1 if c is None else c for c in counts], dtype=float)
        low, mid, high = np.percentile(filled, [25, 50, 75])
        rows.append({"search": method, "median trials": mid, "25th pct": low,
                     "75th pct": high,
                     "reached": f"{sum(c is not None for c in counts)} of {len(counts)}"})
    table = Table(rows, title=f"trials to a validation loss ≤ {target:.3f}, "
                              f"budget {budget}, {len(list(seeds))} search seeds")
    table.raw = raw
    return table


def epochs_spent(study):
    """The epochs all the study's trials ran (a pruned trial stops early)."""
    return int(sum(t.user_attrs.get("epochs", 0) for t in study.trials))


def seeds_needed(a, b, z=2.0):
    """Seeds per configuration for the difference of the means of `a` and `b`
    (per-seed results) to be z standard errors from 0: ⌈z² (s_a² + s_b²) / d²⌉."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = a.mean() - b.mean()
    spread = a.var(ddof=1) + b.var(ddof=1)
    return max(2, math.ceil(z ** 2 * spread / d ** 2)) if d else math.inf


# -- Ray Tune ----------------------------------------------------------------------
# The same trial function, run by Ray: each trial in a worker process, on this
# machine (`local_ray`) or on every machine of a Ray cluster (`ray.init(address=
# "auto")` before the search), with a scheduler that stops bad trials early.

def _ray():
    # No per-experiment banner: `verbose=0` below is the whole of Tune's output.
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    if "ray" not in sys.modules:  # read once, when Ray is imported
        # Ray turns token authentication on for a new local cluster and, unless
        # RAY_AUTH_MODE says so, announces it on stderr (onto a lesson's slide).
        os.environ.setdefault("RAY_AUTH_MODE", "token")
    try:
        import ray
        from ray import tune
    except ImportError as error:
        raise ImportError("the Ray Tune search needs Ray: `pip install \"lessons_lib[scale]\"` "
                          "(or `%pip install \"ray[tune]\"` on Colab)") from error
    return ray, tune


class local_ray:
    """`with tuning.local_ray(num_cpus=2):` a Ray on this machine for the block,
    shut down (its processes ended) afterwards. Inside an already running Ray
    (a cluster you joined), it uses that one and leaves it running."""

    def __init__(self, num_cpus=2):
        self.num_cpus, self.started = num_cpus, False

    def __enter__(self):
        ray, _ = _ray()
        if not ray.is_initialized():
            # No idle workers started ahead: Tune's trials run in workers of their own
            # (they carry a runtime_env), so those would only compete for the cores
            # while Ray starts (init 7.5 -> 5.4 s, a 6-trial search 18.3 -> 15.0 s).
            ray.init(num_cpus=self.num_cpus, include_dashboard=False, log_to_driver=False,
                     configure_logging=False,
                     _system_config={"prestart_worker_first_driver": False})
            self.started = True
        return ray

    def __exit__(self, *exc):
        if self.started:
            _ray()[0].shutdown()


def ray_space(space=None, grid=None):
    """Ray Tune's search space: `space` (name -> (low, high, scale), as for
    Optuna) as tune.loguniform / tune.uniform, or `grid` (name -> values) as
    tune.grid_search: every value once."""
    _, tune = _ray()
    if grid is not None:
        return {name: tune.grid_search(list(values)) for name, values in grid.items()}
    space = SPACE if space is None else space
    return {name: tune.loguniform(low, high) if scale == "log" else tune.uniform(low, high)
            for name, (low, high, scale) in space.items()}


def ray_search(*, space=None, grid=None, budget=None, epochs=3, scheduler="asha", seed=0,
               params=None, trial_function=train_and_validate, storage=None, **options):
    """Run `trial_function(params, report=..., epochs=epochs, **options)` under Ray
    Tune; returns Ray's ResultGrid (`.get_best_result().config`, `.get_dataframe()`).

    space/grid: what to search (see `ray_space`); `budget` trials drawn from
    `space` (seeded), or each grid point once. scheduler: "asha" stops a trial
    at epochs 1, 2, 4, ... unless its loss is in the best half of the trials
    that got that far (ASHAScheduler, reduction factor 2); None runs every
    trial to the end. Each epoch's loss is reported to Ray as `loss`.
    Needs a running Ray (`with tuning.local_ray():`).
    """
    import tempfile

    ray, tune = _ray()
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    if scheduler not in ("asha", None):
        raise ValueError(f"scheduler must be 'asha' or None; got scheduler={scheduler!r}")
    if grid is None and not (isinstance(budget, int) and budget > 0):
        raise ValueError(f"budget must be a positive int (trials) when sampling from space; "
                         f"got budget={budget!r}")
    if not ray.is_initialized():
        raise RuntimeError("no Ray is running: use `with tuning.local_ray():` (or ray.init(...)) "
                           "around the search")
    fixed = dict(params or {})

    def trainable(config):
        trial_function({**fixed, **config}, epochs=epochs, **options,
                       report=lambda epoch, loss: tune.report({"loss": loss, "epoch": epoch}))

    asha = ASHAScheduler(time_attr="training_iteration", max_t=epochs, grace_period=1,
                         reduction_factor=2) if scheduler == "asha" else None
    tuner = tune.Tuner(
        trainable, param_space=ray_space(space, grid),
        # reuse_actors: one worker process runs trial after trial (no start-up each).
        tune_config=tune.TuneConfig(metric="loss", mode="min", scheduler=asha,
                                    reuse_actors=True,
                                    num_samples=1 if grid is not None else budget,
                                    search_alg=BasicVariantGenerator(random_state=seed)),
        run_config=tune.RunConfig(storage_path=storage or tempfile.mkdtemp(prefix="ray-tune-"),
                                  verbose=0))
    return tuner.fit()


def ray_trials(results):
    """One row per trial of a ResultGrid: its config, last loss and epochs run."""
    return [{**result.config, "loss": result.metrics["loss"],
             "epochs": result.metrics["training_iteration"]}
            for result in results]
