"""Keras in practice (lesson 09): what `model.fit` does, written out, and how to
port an optimizer between PyTorch and Keras without changing its math.

- `linear_model`: `Sequential([Input, Dense(1)])` with given starting weights.
- `tape_fit`: `model.fit(x, y, batch_size, shuffle=False)` written out as a
  `tf.GradientTape` loop with `optimizer.apply`; the same weights.
- `run_torch`, `run_keras`, `port_gap`: a torch optimizer and a Keras one on the
  same seeded gradients (`optim.compare.Problem`), with an optional learning
  rate per step, and the worst relative difference of their paths.
- `torch_to_keras`: the Keras optimizer that computes what a given
  `torch.optim` optimizer computes: Keras's built-in when one exists, else our
  torch-flavored rule inside Keras.
- `InterruptAt`: a callback that "crashes" a run, for `BackupAndRestore`.
- `torch_and_keras_curves`: one regression, trained in torch and in Keras from
  the same weights on the same batches; the two loss curves.
- `metrics_table`: accuracy, precision, recall, F1 and ROC AUC from
  `lessons_lib.metrics`, next to scikit-learn's.
"""
import numpy as np

from . import classification, optim
from .optim import compare

# torch.optim class -> our registry name (torch flavor: torch's math and names)
TORCH_NAMES = {"SGD": "sgd", "Adam": "adam", "AdamW": "adamw", "NAdam": "nadam",
               "Adamax": "adamax", "Adagrad": "adagrad", "RMSprop": "rmsprop",
               "Adadelta": "adadelta"}


def linear_model(n_inputs=1, weights=None, activation=None):
    """`Sequential([Input((n_inputs,)), Dense(1)])`, built; `weights` = [kernel, bias]."""
    import keras
    model = keras.Sequential([keras.Input((n_inputs,)),
                              keras.layers.Dense(1, activation=activation)])
    if weights is not None:
        model.set_weights([np.asarray(w, dtype="float32") for w in weights])
    return model


def tape_fit(model, x, y, *, loss, optimizer, epochs, batch_size=32):
    """What `model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False)`
    does for a compiled `loss` object, written out. Returns each epoch's mean
    training loss (the batch losses averaged by batch size, as `fit` reports)."""
    import tensorflow as tf
    x, y = np.asarray(x, dtype="float32"), np.asarray(y, dtype="float32")
    losses = []
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            with tf.GradientTape() as tape:                  # 1. record the forward pass
                value = loss(yb, model(xb, training=True))   # 2. predict, 3. loss
            grads = tape.gradient(value, model.trainable_variables)  # 4. backward
            optimizer.apply(grads, model.trainable_variables)        # 5. step
            total += float(value) * len(xb)
        losses.append(total / len(x))
    return losses


# -- the same gradients through torch and Keras ------------------------------------

def run_torch(make_optimizer, problem, lrs=None):
    """Path of `make_optimizer(params)` (a torch.optim optimizer) on `problem`, in
    float64; `lrs[t]` is the learning rate of step t (default: the optimizer's)."""
    import torch
    params = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in problem.p0]
    optimizer, path = make_optimizer(params), []
    for t in range(problem.steps):
        if lrs is not None:
            for group in optimizer.param_groups:
                group["lr"] = float(lrs[t])
        current = [p.detach().numpy() for p in params]
        for p, g in zip(params, problem.grads(current, t)):
            p.grad = torch.tensor(g, dtype=torch.float64)
        optimizer.step()
        path.append([p.detach().numpy().copy() for p in params])
    return path


def run_keras(keras_optimizer, problem, lrs=None):
    """Path of a Keras optimizer on `problem` with float64 variables; `lrs[t]` is
    assigned to `optimizer.learning_rate` before step t."""
    import keras
    variables = [keras.Variable(p, dtype="float64") for p in problem.p0]
    path = []
    for t in range(problem.steps):
        if lrs is not None:
            keras_optimizer.learning_rate = float(lrs[t])
        current = [np.array(v.numpy()) for v in variables]
        grads = [keras.ops.convert_to_tensor(g, dtype="float64")
                 for g in problem.grads(current, t)]
        keras_optimizer.apply(grads, variables)
        path.append([np.array(v.numpy()) for v in variables])
    return path


def port_gap(make_torch, keras_optimizer, problem=None, lrs=None):
    """Worst relative difference between a torch optimizer's path and a Keras
    optimizer's path on the same gradients (0 or ~1e-16: the same math)."""
    problem = problem or compare.Problem()
    return compare.relative_error(run_keras(keras_optimizer, problem, lrs),
                                  run_torch(make_torch, problem, lrs))


def torch_to_keras(torch_optimizer, constant_lr=True):
    """The Keras optimizer that computes what `torch_optimizer` computes.

    Returns (keras optimizer, how): Keras's built-in when it has the same math
    ("built-in"), else our torch-flavored rule inside Keras ("ours: <why>").
    With `constant_lr=False` (a schedule will change the rate) SGD with momentum
    keeps torch's buffer: Keras's built-in puts the learning rate inside it.
    """
    kind = type(torch_optimizer).__name__
    if kind not in TORCH_NAMES:
        raise ValueError(f"no port for torch.optim.{kind}; known: {', '.join(TORCH_NAMES)}")
    if len(torch_optimizer.param_groups) != 1:
        raise ValueError("port one parameter group at a time (Keras has one learning rate)")
    rule_class = optim.REGISTRY[TORCH_NAMES[kind]]
    group = torch_optimizer.param_groups[0]
    known = rule_class.defaults["torch"]
    hparams = {k: _plain(v) for k, v in group.items() if k in known}
    rule = rule_class(**hparams)
    if not constant_lr and getattr(rule, "momentum", 0):
        return rule.to_keras(), "ours: Keras's built-in keeps the learning rate in the buffer"
    built_in = rule.keras_reference()
    if built_in is not None:
        return built_in, "built-in"
    return rule.to_keras(), "ours: no Keras built-in has torch's math for this setting"


def _plain(value):
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "item"):       # a tensor learning rate
        return value.item()
    return value


# -- callbacks ---------------------------------------------------------------------

class SimulatedCrash(RuntimeError):
    """Raised by `InterruptAt`: stands for a killed process or a lost Colab runtime."""


def InterruptAt(epoch):
    """A Keras callback that raises `SimulatedCrash` at the end of `epoch` (1-based)."""
    import keras

    class _InterruptAt(keras.callbacks.Callback):
        def on_epoch_end(self, index, logs=None):
            if index + 1 == epoch:
                raise SimulatedCrash(f"simulated crash after epoch {epoch}")

    return _InterruptAt()


# -- one problem in both frameworks ---------------------------------------------------

def torch_and_keras_curves(x, y, *, make_torch, keras_optimizer, epochs, batch_size, seed=0):
    """Train a linear regression (MSE) in torch and in Keras from the same weights,
    on the same batches in the same order (no shuffling): `make_torch(params)`
    builds the torch optimizer, `keras_optimizer` is the Keras one.

    Returns {"torch": losses, "Keras": losses}: each epoch's mean batch loss,
    measured before each update (what `model.fit` reports).
    """
    import torch
    x, y = np.asarray(x, dtype="float32"), np.asarray(y, dtype="float32").reshape(-1, 1)
    rng = np.random.default_rng(seed)
    kernel = rng.normal(scale=0.1, size=(x.shape[1], 1)).astype("float32")
    bias = np.zeros(1, dtype="float32")

    net = torch.nn.Linear(x.shape[1], 1)
    with torch.no_grad():
        net.weight.copy_(torch.from_numpy(kernel.T.copy()))
        net.bias.copy_(torch.from_numpy(bias))
    optimizer, loss_fn, torch_losses = make_torch(net.parameters()), torch.nn.MSELoss(), []
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    for _ in range(epochs):
        total = 0.0
        for start in range(0, len(x), batch_size):
            xb, yb = xt[start:start + batch_size], yt[start:start + batch_size]
            loss = loss_fn(net(xb), yb)     # predict, loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(xb)
        torch_losses.append(total / len(x))

    model = linear_model(x.shape[1], [kernel, bias])
    model.compile(optimizer=keras_optimizer, loss="mse")
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0)
    return {"torch": torch_losses, "Keras": history.history["loss"]}


# -- the metrics table ---------------------------------------------------------------

def metrics_table(y_true, scores, threshold=0.5):
    """Rows {metric, ours, scikit-learn, difference}: lesson 08's metrics at a
    threshold (`classification.scores_table`) next to scikit-learn's."""
    from sklearn import metrics as sk
    y_true = np.asarray(y_true).ravel().astype(int)
    scores = np.asarray(scores, dtype=float).ravel()
    y_pred = (scores >= threshold).astype(int)
    ours = classification.scores_table(y_true, scores, threshold)
    theirs = {"accuracy": sk.accuracy_score(y_true, y_pred),
              "precision": sk.precision_score(y_true, y_pred, zero_division=0),
              "recall": sk.recall_score(y_true, y_pred, zero_division=0),
              "F1": sk.f1_score(y_true, y_pred, zero_division=0),
              "ROC AUC": sk.roc_auc_score(y_true, scores)}
    return [{"metric": name, "ours": float(ours[name]), "scikit-learn": float(theirs[name]),
             "difference": abs(float(ours[name]) - float(theirs[name]))} for name in theirs]
