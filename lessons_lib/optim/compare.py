"""Ours vs torch.optim vs Keras on the same gradients: the live check of lesson 06.

A `Problem` fixes parameters of several shapes and a gradient oracle
g_t = scale·(c ⊙ p + noise_t) that depends on the parameters, so a difference in
one step feeds into every later one. Each runner steps one implementation and
returns the path (a list, per step, of the parameter arrays).
"""
import numpy as np

SHAPES = ((3,), (2, 3), (4, 1, 2))


class Problem:
    """Seeded parameters and gradients; `scale` shrinks both (1e-6 makes ε matter)."""

    def __init__(self, seed=0, scale=1.0, steps=50, shapes=SHAPES):
        rng = np.random.default_rng(seed)
        self.scale, self.steps = scale, steps
        self.p0 = [scale * rng.normal(size=s) for s in shapes]
        self.curvature = [rng.uniform(0.1, 3.0, size=s) for s in shapes]
        self.noise = [[rng.normal(size=s) for s in shapes] for _ in range(steps)]

    def grads(self, params, t):
        """Gradients at step t (0-based) for NumPy parameters."""
        return [self.scale * (c * p + n) for c, p, n in zip(self.curvature, params, self.noise[t])]


def run_numpy(opt, problem):
    params, state, path = [p.copy() for p in problem.p0], opt.init(problem.p0), []
    for t in range(problem.steps):
        params, state = opt.update(params, problem.grads(params, t), state)
        path.append([p.copy() for p in params])
    return path


def run_torch(make_optimizer, problem, device="cpu"):
    """`make_optimizer(params)`: e.g. `opt.to_torch` or `opt.torch_reference`.

    Runs with torch's default dtype set to float64, because torch keeps scalar
    optimizer state (NAdam's μ product) in the default dtype.
    """
    import torch
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return _run_torch(make_optimizer, problem, device, torch)
    finally:
        torch.set_default_dtype(previous)


def _run_torch(make_optimizer, problem, device, torch):
    params = [torch.tensor(p, dtype=torch.float64, device=device, requires_grad=True)
              for p in problem.p0]
    optimizer, path = make_optimizer(params), []
    for t in range(problem.steps):
        current = [p.detach().cpu().numpy() for p in params]
        for p, g in zip(params, problem.grads(current, t)):
            p.grad = torch.tensor(g, dtype=torch.float64, device=device)
        optimizer.step()
        path.append([p.detach().cpu().numpy().copy() for p in params])
    return path


def run_keras(keras_optimizer, problem):
    import keras
    variables = [keras.Variable(p, dtype="float64") for p in problem.p0]
    path = []
    for t in range(problem.steps):
        current = [np.array(v.numpy()) for v in variables]
        grads = [keras.ops.convert_to_tensor(g, dtype="float64") for g in problem.grads(current, t)]
        keras_optimizer.apply(grads, variables)
        path.append([np.array(v.numpy()) for v in variables])
    return path


def float32_exact(opt):
    """The same optimizer with every float hyperparameter rounded to float32.

    Keras stores its learning rate in float32 and casts Python floats through
    float32, so only such values reach its built-ins unchanged.
    """
    def rounded(value):
        if isinstance(value, tuple):
            return tuple(rounded(v) for v in value)
        return float(np.float32(value)) if isinstance(value, float) else value
    return opt.with_hparams(**{k: rounded(v) for k, v in opt.hparams.items()})


def relative_error(path, reference):
    """max_t ‖a_t − b_t‖∞ / max_t ‖b_t‖∞: the worst difference relative to the run's scale.

    Dividing by the largest parameter of the whole run, not of each step, keeps
    the measure honest when a parameter passes near zero.
    """
    diff = scale = 0.0
    for step_a, step_b in zip(path, reference, strict=True):
        a = np.concatenate([x.ravel() for x in step_a])
        b = np.concatenate([x.ravel() for x in step_b])
        diff = max(diff, float(np.max(np.abs(a - b))))
        scale = max(scale, float(np.max(np.abs(b))))
    return diff / scale


def side_by_side(opt, problem=None, *, frameworks=("torch", "keras"), device="cpu"):
    """Run `opt` from scratch (NumPy), inside each framework, and each framework's own optimizer.

    Returns {label: relative error vs our NumPy run}; a built-in the framework
    lacks for this configuration is reported as None. Keras keeps its learning
    rate in a float32 variable and casts Python floats through float32, so its
    runs agree to float64 round-off only when the hyperparameters are exact in
    float32 (e.g. 0.0625, not 0.1); otherwise expect about 1e-8.
    """
    problem = problem or Problem()
    ours = run_numpy(opt, problem)
    table = {}
    if "torch" in frameworks:
        def in_torch(make):
            return relative_error(run_torch(make, problem, device), ours)
        table["ours inside torch"] = in_torch(opt.to_torch)
        table["torch.optim built-in"] = (in_torch(opt.torch_reference)
                                         if opt.torch_equivalent() is not None else None)
    if "keras" in frameworks:
        def in_keras(keras_optimizer):
            return relative_error(run_keras(keras_optimizer, problem), ours)
        table["ours inside Keras"] = in_keras(opt.to_keras())
        table["Keras built-in"] = (in_keras(opt.keras_reference())
                                   if opt.keras_equivalent() is not None else None)
    return table
