"""Shared drivers for the optimizer tests: one gradient oracle, three runners.

Every runner steps an optimizer on the same problem: parameters of several
shapes, gradient g = scale·(c ⊙ p + noise_t), where the noise sequence is fixed
in advance. The gradient depends on the parameters, so any difference in one
step feeds into the next. `scale` = 1e-6 shrinks parameters and gradients
together, so epsilon matters and errors stay measurable relative to ‖p‖.
"""
import numpy as np

SHAPES = [(3,), (2, 3), (4, 1, 2)]
STEPS = 50


class Problem:
    def __init__(self, seed, scale=1.0, steps=STEPS):
        rng = np.random.default_rng(seed)
        self.scale = scale
        self.p0 = [scale * rng.normal(size=s) for s in SHAPES]
        self.curvature = [rng.uniform(0.1, 3.0, size=s) for s in SHAPES]
        self.noise = [[rng.normal(size=s) for s in SHAPES] for _ in range(steps)]
        self.steps = steps

    def grads(self, params, t):
        """Gradient at step t (0-based) for NumPy parameters."""
        return [self.scale * (c * p + n) for c, p, n in zip(self.curvature, params, self.noise[t])]


def sample_hparams(name, flavor, rng):
    """Random, valid hyperparameters for `name`; options keep the flavor's conventions.

    Every float is rounded to float32: Keras keeps its learning rate in a float32
    variable and `ops.cast(python_float, "float64")` goes through float32, so
    only float32 values reach Keras's built-ins unchanged.
    """
    u = rng.uniform
    lr = float(np.float32(10 ** u(-3, -1.3)))
    wd = float(u(0, 0.1))
    betas = (float(u(0.5, 0.95)), float(u(0.9, 0.9999)))
    eps = float(10 ** u(-8, -6))
    h = dict(lr=lr, weight_decay=wd)
    if name in ("sgd", "momentum", "nesterov"):
        if name != "sgd":
            h["momentum"] = float(u(0.5, 0.95))
        if name == "momentum" and flavor == "torch":
            h["dampening"] = float(u(0, 0.5))
    elif name == "adagrad":
        h.update(eps=eps, initial_accumulator_value=float(u(0, 0.5)))
        if flavor == "torch":
            h["lr_decay"] = float(u(0, 0.01))
    elif name == "rmsprop":
        h.update(alpha=float(u(0.8, 0.999)), eps=eps, centered=bool(rng.integers(2)),
                 momentum=float(u(0.3, 0.9)) if rng.integers(2) else 0.0)
    elif name == "adadelta":
        h.update(rho=float(u(0.8, 0.99)), eps=eps, lr=float(np.float32(u(0.1, 1.0))))
    elif name in ("adam", "amsgrad", "adamw"):
        h.update(betas=betas, eps=eps)
        if name != "amsgrad":
            h["amsgrad"] = bool(rng.integers(2))
    elif name == "nadam":
        h.update(betas=betas, eps=eps)
        if flavor == "torch":
            h["momentum_decay"] = float(u(0.001, 0.01))
    elif name == "adamax":
        h.update(betas=betas, eps=eps)
    return {k: _float32(v) for k, v in h.items()}


def _float32(value):
    if isinstance(value, tuple):
        return tuple(_float32(v) for v in value)
    return float(np.float32(value)) if isinstance(value, float) else value


def run_numpy(opt, problem):
    params = [p.copy() for p in problem.p0]
    state = opt.init(params)
    path = []
    for t in range(problem.steps):
        params, state = opt.update(params, problem.grads(params, t), state)
        path.append([p.copy() for p in params])
    return path


def run_torch(torch_opt_factory, problem, device="cpu"):
    import torch
    params = [torch.tensor(p, dtype=torch.float64, device=device, requires_grad=True)
              for p in problem.p0]
    opt = torch_opt_factory(params)
    path = []
    for t in range(problem.steps):
        numpy_params = [p.detach().cpu().numpy() for p in params]
        for p, g in zip(params, problem.grads(numpy_params, t)):
            p.grad = torch.tensor(g, dtype=torch.float64, device=device)
        opt.step()
        path.append([p.detach().cpu().numpy().copy() for p in params])
    return path


def run_keras(keras_opt, problem):
    import keras
    variables = [keras.Variable(p, dtype="float64") for p in problem.p0]
    path = []
    for t in range(problem.steps):
        numpy_params = [np.array(v.numpy()) for v in variables]
        grads = [keras.ops.convert_to_tensor(g, dtype="float64")
                 for g in problem.grads(numpy_params, t)]
        keras_opt.apply(grads, variables)
        path.append([np.array(v.numpy()) for v in variables])
    return path


def worst_relative_error(path, reference):
    """max_t ‖a_t − b_t‖∞ / max_t ‖b_t‖∞: the worst difference relative to the run's scale.

    Dividing by the largest parameter of the whole run rather than of each step
    keeps the measure meaningful when a parameter passes near zero, where a
    per-step ratio would report round-off of large cancelling steps as error.
    """
    diff = scale = 0.0
    for step_a, step_b in zip(path, reference, strict=True):
        a = np.concatenate([x.ravel() for x in step_a])
        b = np.concatenate([x.ravel() for x in step_b])
        diff = max(diff, float(np.max(np.abs(a - b))))
        scale = max(scale, float(np.max(np.abs(b))))
    return diff / scale
