"""The course's PyTorch training loop: `fit(model, train, loss=..., optimizer=..., epochs=...)`.

Every step is the five steps of lesson 08, nothing hidden:

    pred = model(x)             # 1. forward
    loss = loss_fn(pred, y)     # 2. loss
    optimizer.zero_grad()       # 3. forget the previous step's gradients
    loss.backward()             # 4. backward: gradients of the loss
    optimizer.step()            # 5. update the weights

Around them, `fit` adds what real training needs, without slowing the GPU down:
the loop never reads a device value on the host while it runs (no `.item()`,
no `if loss:`), because each read makes the CPU wait for the GPU to finish.
Each batch's loss (which also tells whether training diverged) and the metric
inputs stay on the device and are read once, at the end of each epoch.
"""
from __future__ import annotations

import collections.abc
import contextlib
import copy
import math
import os
import random
import tempfile
import time
import warnings

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from lessons_lib.devices import pick_device, seed_everything
from lessons_lib.harness import CheckpointError, DivergenceError, distributed, divergence_message
from lessons_lib.harness.callbacks import TrainState
from lessons_lib.harness.history import History
from lessons_lib.harness.recompute import ActivationCheckpointed

SCHEDULER_INTERVALS = ("batch", "epoch")
CHECKPOINT_FORMAT = "lessons_lib.harness.torch/1"


def fit(model, train, *, loss, optimizer, epochs, val=None, scheduler=None,
        scheduler_interval="batch", callbacks=(), metrics=None, device="auto", amp="auto",
        clip_grad_norm=None, progress=True, seed=None, checkpoint=None,
        check_every=None, accumulate=1, activation_checkpointing=False) -> History:
    """Train `model` for `epochs` passes over `train`; returns a `History`.

    train, val: DataLoaders, or any re-iterable of (x, y) batches (a list works).
    loss: a function of (prediction, target) returning the batch mean, e.g. nn.MSELoss().
    optimizer: a torch.optim.Optimizer over the model's parameters, or a
        lessons_lib optimizer (anything with `.to_torch(params)`), built here
        on the model's parameters after the model is moved to the device.
    scheduler: a torch LRScheduler on that optimizer, or a lessons_lib schedule
        (anything with `.to_torch(optimizer)`). `scheduler_interval="batch"`
        (the default) steps it after every update, so its step counts updates as
        the course's schedules do; "epoch" steps it after every epoch.
        ReduceLROnPlateau always steps per epoch, on val_loss (train_loss
        without validation data).
    callbacks: `lessons_lib.harness.callbacks` objects (EarlyStopping, LRLogger, ...).
    metrics: {"name": fn(y_true, y_pred)} and/or built-in names ("accuracy"),
        computed once per epoch on all of the epoch's predictions, for the
        training data (as predicted while training) and `val` ("val_" prefix).
    device: "auto" (CUDA, then MPS, then CPU), "cuda", "mps" or "cpu".
    amp: mixed precision. "auto" uses it on CUDA only: bfloat16 autocast on
        GPUs that have bf16 tensor cores (compute capability >= 8: A100, H100,
        ...), no loss scaling needed; float16 autocast with a GradScaler on older
        GPUs (e.g. Colab's T4; the scaler's overflow check reads one flag per step).
        True also enables bfloat16 autocast on the CPU; False never uses it.
    clip_grad_norm: rescale the gradients so that their global L2 norm is at
        most this (after unscaling under mixed precision).
    progress: a tqdm bar over epochs (True), also over batches ("batches"), or none (False).
    seed: seeds Python, NumPy and torch (devices.seed_everything) before training.
    checkpoint: a file path. After every epoch, model, optimizer, scheduler,
        epoch, History, callback state and every RNG state (including the
        DataLoader's generator) are saved atomically. If the file exists when
        `fit` starts, training resumes after its last epoch (Keras's
        BackupAndRestore semantics; the file is kept, so a finished run is not
        repeated: delete it to start over). Resuming reproduces the
        uninterrupted run exactly on the CPU.
    check_every: also look for a NaN/inf loss every this many steps (one sync
        each time), to stop a diverging epoch early. Default: once per epoch.
    accumulate: gradient accumulation. k > 1 makes one update per k batches,
        with the gradient of the mean loss over their samples: the same update
        as one batch k times larger (unless the model has batch norm, whose
        statistics still come from each batch alone), in the memory of one.
    activation_checkpointing: for an nn.Sequential model, keep only the inputs
        of ⌈√L⌉ segments in the forward pass and recompute the rest during
        backward (`harness.recompute`): less memory, same gradients, about one
        more forward pass of compute. An int sets the number of segments.

    Under `torchrun --nproc_per_node=N` (see `harness.distributed`), fit joins
    the process group (gloo on the CPU, NCCL on GPUs, one GPU per rank), gives
    each rank its share of `train` (a DistributedSampler, reshuffled every
    epoch), wraps the model in DistributedDataParallel, and averages each
    epoch's losses and metrics over the ranks, so every rank records the same
    History and stops together on divergence. Only rank 0 shows progress and
    writes the checkpoint; every rank resumes from it. The batch size of
    `train` is per rank: N ranks of batch B train like one process of batch N·B.
    `val` is evaluated whole on every rank (the same figure everywhere), and
    `device` is the rank's own (cuda:LOCAL_RANK, or the CPU).

    A NaN or infinite loss raises `DivergenceError` at the end of the epoch,
    after putting back the weights, buffers, optimizer, scheduler and
    grad-scaler state as they were at the start of that epoch: the model is
    never left with NaN weights. (This costs one copy of the weights and the
    optimizer state, kept on the device.)
    """
    _check_arguments(epochs=epochs, scheduler_interval=scheduler_interval, amp=amp,
                     clip_grad_norm=clip_grad_norm, progress=progress, check_every=check_every,
                     train=train, val=val)
    _check_scale_arguments(accumulate, activation_checkpointing, model)
    device = distributed.setup() or pick_device(device)  # under torchrun: this rank's device
    if seed is not None:
        seed_everything(seed)
    model.to(device)
    # -- data parallelism (a no-op in a single process) and memory options --
    train = distributed.shard(train)
    progress = progress if distributed.is_main() else False
    optimizer = _build_optimizer(optimizer, model)
    scheduler = _build_scheduler(scheduler, optimizer)
    amp_dtype = _amp_dtype(amp, device)
    run = _Run(model=model, loss=loss, optimizer=optimizer, scheduler=scheduler,
               scheduler_per_batch=scheduler is not None and scheduler_interval == "batch"
               and not isinstance(scheduler, ReduceLROnPlateau),
               device=device, amp_dtype=amp_dtype,
               scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
               clip_grad_norm=clip_grad_norm, callbacks=list(callbacks),
               metrics=_resolve_metrics(metrics, loss), check_every=check_every)
    run.accumulate = accumulate
    run.forward = distributed.wrap(_checkpointed(model, activation_checkpointing), device)
    history = run.state.history
    for callback in run.callbacks:
        callback.on_train_begin(run.state)
    first_epoch = 1
    if checkpoint is not None and os.path.exists(checkpoint):
        first_epoch = _resume(checkpoint, run, loaders=(train, val), epochs=epochs)
    with _progress_bar(progress, epochs, first_epoch) as bar:
        for epoch in range(first_epoch, epochs + 1):
            distributed.set_epoch(train, epoch)
            row = _run_epoch(run, epoch, train, val, progress)
            history.append(row)
            stop = any([callback.on_epoch_end(run.state, row) for callback in run.callbacks])
            if checkpoint is not None:
                if distributed.is_main():
                    _save_checkpoint(checkpoint, _checkpoint_payload(run, epoch, stop,
                                                                     (train, val)))
                distributed.barrier()  # no rank runs ahead of a checkpoint being written
            bar.set_postfix({k: f"{v:.4g}" for k, v in row.items()
                             if k not in ("epoch", "seconds")})
            bar.update()
            if stop:
                break
    for callback in run.callbacks:
        callback.on_train_end(run.state)
    return history


# -- setup ------------------------------------------------------------------------------

class _Run:
    """Everything one `fit` call trains with (so helpers take one argument)."""

    def __init__(self, *, model, loss, optimizer, scheduler, scheduler_per_batch, device,
                 amp_dtype, scaler, clip_grad_norm, callbacks, metrics, check_every):
        self.model, self.loss, self.optimizer, self.scheduler = model, loss, optimizer, scheduler
        self.scheduler_per_batch = scheduler_per_batch
        self.device, self.amp_dtype, self.scaler = device, amp_dtype, scaler
        self.clip_grad_norm, self.callbacks, self.metrics = clip_grad_norm, callbacks, metrics
        self.check_every = check_every
        self.state = TrainState(model, optimizer=optimizer, scheduler=scheduler, history=History(),
                                get_weights=lambda: _copy_state(model.state_dict()),
                                set_weights=model.load_state_dict)


def _check_arguments(*, epochs, scheduler_interval, amp, clip_grad_norm, progress, check_every,
                     train, val):
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int; got epochs={epochs!r}")
    if scheduler_interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"scheduler_interval must be 'batch' (step the scheduler after every "
                         f"update) or 'epoch'; got scheduler_interval={scheduler_interval!r}")
    if not (amp is True or amp is False or amp == "auto"):
        raise ValueError(f"amp must be 'auto', True or False; got amp={amp!r}")
    if clip_grad_norm is not None and not clip_grad_norm > 0:
        raise ValueError(f"clip_grad_norm must be a positive number or None; "
                         f"got clip_grad_norm={clip_grad_norm!r}")
    if not (progress is True or progress is False or progress == "batches"):
        raise ValueError(f"progress must be True, False or 'batches'; got progress={progress!r}")
    if check_every is not None and not (isinstance(check_every, int) and check_every > 0):
        raise ValueError(f"check_every must be a positive int or None; "
                         f"got check_every={check_every!r}")
    for name, data in (("train", train), ("val", val)):
        # A generator would be empty from the second epoch on. (Not `iter(data)`:
        # starting a DataLoader's iterator draws from its random generator.)
        if isinstance(data, collections.abc.Iterator):
            raise ValueError(f"{name} must be re-iterable (a DataLoader or a list of "
                             f"(x, y) batches); got a one-shot iterator {type(data).__name__}")


def _check_scale_arguments(accumulate, activation_checkpointing, model):
    if not (isinstance(accumulate, int) and not isinstance(accumulate, bool) and accumulate > 0):
        raise ValueError(f"accumulate must be a positive int (batches per update); "
                         f"got accumulate={accumulate!r}")
    valid = activation_checkpointing is True or activation_checkpointing is False or (
        isinstance(activation_checkpointing, int) and activation_checkpointing > 0)
    if not valid:
        raise ValueError("activation_checkpointing must be True, False or a number of "
                         f"segments; got activation_checkpointing={activation_checkpointing!r}")
    if activation_checkpointing is not False:
        ActivationCheckpointed(model, None if activation_checkpointing is True
                               else activation_checkpointing)  # raises on a bad model


def _checkpointed(model, activation_checkpointing):
    if activation_checkpointing is False:
        return model
    return ActivationCheckpointed(model, None if activation_checkpointing is True
                                  else activation_checkpointing)


def _build_optimizer(optimizer, model):
    if not isinstance(optimizer, torch.optim.Optimizer) and hasattr(optimizer, "to_torch"):
        optimizer = optimizer.to_torch(model.parameters())  # a lessons_lib optimizer
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise ValueError("optimizer must be a torch.optim.Optimizer or a lessons_lib optimizer "
                         f"(with .to_torch(params)); got optimizer={optimizer!r}")
    model_params = {id(p) for p in model.parameters()}
    if not all(id(p) in model_params for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("optimizer updates parameters that are not this model's: build it "
                         "from model.parameters() of the model passed to fit")
    return optimizer


def _build_scheduler(scheduler, optimizer):
    if scheduler is None:
        return None
    if not isinstance(scheduler, LRScheduler) and hasattr(scheduler, "to_torch"):
        scheduler = scheduler.to_torch(optimizer)  # a lessons_lib schedule
    if not isinstance(scheduler, LRScheduler):
        raise ValueError("scheduler must be a torch LRScheduler (incl. ReduceLROnPlateau), a "
                         f"lessons_lib schedule (with .to_torch(optimizer)) or None; "
                         f"got scheduler={scheduler!r}")
    if scheduler.optimizer is not optimizer:
        raise ValueError("scheduler was built on a different optimizer than the one passed to fit")
    return scheduler


def _amp_dtype(amp, device):
    """The autocast dtype, or None for full precision (see `fit`'s docstring)."""
    if amp is False:
        return None
    if device.type == "cuda":
        major, _ = torch.cuda.get_device_capability(device)
        return torch.bfloat16 if major >= 8 else torch.float16
    if amp == "auto":
        return None
    if device.type == "cpu":
        return torch.bfloat16
    raise ValueError(f"amp=True is not supported on device {device.type!r}; "
                     "use amp=False (or 'auto')")


# -- metrics ----------------------------------------------------------------------------

def accuracy(y_true, y_pred, threshold=0.0):
    """Fraction of correct predictions, as a tensor.

    Several outputs per sample: the class is the argmax (targets may be class
    indices or one-hot). One output: the class is `pred > threshold` (0 for
    logits, as BCEWithLogitsLoss expects; 0.5 for probabilities).
    """
    if y_pred.ndim > 1 and y_pred.shape[-1] > 1:
        predicted = y_pred.argmax(dim=-1)
        if y_true.ndim == y_pred.ndim:
            y_true = y_true.argmax(dim=-1)
    else:
        predicted = (y_pred.reshape(-1) > threshold).long()
    return (predicted.reshape(-1) == y_true.reshape(-1).long()).float().mean()


def _resolve_metrics(metrics, loss):
    """{name: fn}; a built-in name becomes its function. "accuracy" reads one
    output as a probability when the loss is nn.BCELoss, else as a logit."""
    if metrics is None:
        return {}
    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, dict):
        metrics = {name: name for name in metrics}
    builtins = {"accuracy": (lambda y, p: accuracy(y, p, 0.5)) if isinstance(loss, torch.nn.BCELoss)
                else accuracy}
    resolved = {}
    for name, fn in metrics.items():
        if isinstance(fn, str):
            if fn not in builtins:
                raise ValueError(f"unknown metric {fn!r}; built-in metrics are {sorted(builtins)}, "
                                 "or pass {'name': fn(y_true, y_pred)}")
            fn = builtins[fn]
        resolved[name] = fn
    return resolved


class _Outputs:
    """Predictions and targets of an epoch, kept on the device for the metrics."""

    def __init__(self):
        self.preds, self.targets = [], []

    def add(self, pred, y):
        self.preds.append(pred.detach().float())
        self.targets.append(y.detach())

    def compute(self, metrics, prefix=""):
        if not metrics or not self.preds:
            return {}
        pred, target = torch.cat(self.preds), torch.cat(self.targets)
        return {prefix + name: float(fn(target, pred)) for name, fn in metrics.items()}


# -- one epoch --------------------------------------------------------------------------

def _run_epoch(run, epoch, train, val, progress):
    """Train one epoch, evaluate, read the figures once; returns the History row."""
    started = time.perf_counter()
    run.state.epoch = epoch
    saved = _snapshot(run)  # what a divergence in this epoch rolls back to
    for callback in run.callbacks:
        callback.on_epoch_begin(run.state)
    train_out = _train_epoch(run, _batches(train, progress, epoch))
    val_out = _evaluate(run, val) if val is not None else None
    params_finite = torch.stack([p.isfinite().all() for p in run.model.parameters()]).all()
    # The epoch's one read of device values: every batch loss, and finiteness.
    figures = _read_once([params_finite[None]] + train_out.losses
                         + (val_out.losses if val_out is not None else []))
    train_losses = figures[1:1 + train_out.steps]
    bad_step = next((i + 1 for i, v in enumerate(train_losses) if not math.isfinite(v)), 0)
    if bad_step or figures[0] < 1:
        _restore(run, saved)
        _raise_divergence(run, epoch, train_out, bad_step)
    row = {"epoch": epoch, "train_loss": train_out.mean(train_losses)}
    if val_out is not None:
        row["val_loss"] = val_out.mean(figures[1 + train_out.steps:])
    _step_scheduler_per_epoch(run, row)
    row["lr"] = float(run.optimizer.param_groups[0]["lr"])
    row.update(distributed.mean_metrics(train_out.outputs.compute(run.metrics)))
    if val_out is not None:
        row.update(val_out.outputs.compute(run.metrics, prefix="val_"))
    row["seconds"] = time.perf_counter() - started
    return row


class _EpochLosses:
    """Each batch's loss, kept on the device (a list append launches no GPU
    work and waits for none); read all at once at the end of the epoch."""

    def __init__(self):
        self.losses = []
        self.sizes = []     # batch sizes: shapes, which the host knows without a sync
        self.lrs = []       # the learning rate of each step, for the divergence message
        self.outputs = _Outputs()

    @property
    def steps(self):
        return len(self.losses)

    def add(self, batch_loss, n):
        self.losses.append(batch_loss.detach().reshape(1))
        self.sizes.append(n)

    def mean(self, values):
        """The epoch's loss per sample, from the batch means read back."""
        return sum(v * n for v, n in zip(values, self.sizes)) / sum(self.sizes)

    def any_nonfinite(self, last):
        """Whether one of the `last` losses is NaN/inf (one sync: check_every only)."""
        return not torch.cat(self.losses[-last:]).isfinite().all().item()


def _train_epoch(run, batches):
    if run.accumulate > 1:
        return _train_epoch_accumulating(run, batches)
    model, optimizer, scaler = run.model, run.optimizer, run.scaler
    model.train()
    totals = _EpochLosses()
    for batch in batches:
        x, y = _to_device(batch, run.device)
        with _autocast(run):
            pred = run.forward(x)                    # 1. forward (the DDP wrapper, if any)
            batch_loss = run.loss(pred, y)           # 2. loss
        optimizer.zero_grad(set_to_none=True)        # 3. zero the gradients
        scaler.scale(batch_loss).backward()          # 4. backward (scale() is a no-op without fp16)
        _prepare_gradients(run)
        totals.lrs.append(optimizer.param_groups[0]["lr"])
        scaler.step(optimizer)                       # 5. step (calls optimizer.step())
        scaler.update()
        if run.scheduler_per_batch:
            run.scheduler.step()
        totals.add(batch_loss, len(y))
        if run.metrics:
            totals.outputs.add(pred, y)
        run.state.step += 1
        run.state.batch_loss = batch_loss
        for callback in run.callbacks:
            callback.on_batch_end(run.state)
        if run.check_every and totals.steps % run.check_every == 0 \
                and totals.any_nonfinite(run.check_every):
            break  # diverged: the epoch's end raises
    if totals.steps == 0:
        raise ValueError("train yielded no batches")
    return totals


def _groups(batches, k):
    group = []
    for batch in batches:
        group.append(batch)
        if len(group) == k:
            yield group
            group = []
    if group:
        yield group  # the epoch's last, shorter group


def _train_epoch_accumulating(run, batches):
    """accumulate=k: gradients of k batches summed before one update.

    Batch i of a group with n samples in all contributes (n_i / n) · ∇loss_i,
    so the update follows ∇ of the mean loss over all n samples, as one batch
    of n would (also for a shorter last batch or group). Under DDP the
    gradients are all-reduced once per group, not once per batch (no_sync).
    """
    optimizer, scaler = run.optimizer, run.scaler
    run.model.train()
    totals = _EpochLosses()
    for group in _groups(batches, run.accumulate):
        optimizer.zero_grad(set_to_none=True)
        samples = sum(len(y) for _, y in group)
        for i, batch in enumerate(group):
            x, y = _to_device(batch, run.device)
            last = i == len(group) - 1
            with _sync_gradients(run, last), _autocast(run):
                pred = run.forward(x)
                batch_loss = run.loss(pred, y)
            with _sync_gradients(run, last):
                scaler.scale(batch_loss * (len(y) / samples)).backward()
            totals.add(batch_loss, len(y))
            totals.lrs.append(optimizer.param_groups[0]["lr"])
            if run.metrics:
                totals.outputs.add(pred, y)
        _prepare_gradients(run)
        scaler.step(optimizer)
        scaler.update()
        if run.scheduler_per_batch:
            run.scheduler.step()
        run.state.step += 1
        run.state.batch_loss = batch_loss
        for callback in run.callbacks:
            callback.on_batch_end(run.state)
        if run.check_every and totals.steps >= run.check_every \
                and totals.any_nonfinite(len(group)):
            break
    if totals.steps == 0:
        raise ValueError("train yielded no batches")
    return totals


def _sync_gradients(run, last):
    """DDP's all-reduce only after the group's last batch (no_sync before it)."""
    if last or not hasattr(run.forward, "no_sync"):
        return contextlib.nullcontext()
    return run.forward.no_sync()


def _prepare_gradients(run):
    """Unscale (fp16 only), clip, then let callbacks look at the final gradients."""
    run.scaler.unscale_(run.optimizer)
    if run.clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), run.clip_grad_norm)
    for callback in run.callbacks:
        callback.on_before_step(run.state)


@torch.no_grad()
def _evaluate(run, batches):
    run.model.eval()
    totals = _EpochLosses()
    for batch in batches:
        x, y = _to_device(batch, run.device)
        with _autocast(run):
            pred = run.model(x)
            totals.add(run.loss(pred, y), len(y))
        if run.metrics:
            totals.outputs.add(pred, y)
    if totals.steps == 0:
        raise ValueError("val yielded no batches")
    return totals


def _step_scheduler_per_epoch(run, row):
    if isinstance(run.scheduler, ReduceLROnPlateau):
        run.scheduler.step(row.get("val_loss", row["train_loss"]))
    elif run.scheduler is not None and not run.scheduler_per_batch:
        run.scheduler.step()


def _autocast(run):
    if run.amp_dtype is None:
        return contextlib.nullcontext()  # cheaper than a disabled autocast, every step
    return torch.autocast(run.device.type, dtype=run.amp_dtype)


def _to_device(batch, device):
    try:
        x, y = batch
    except (TypeError, ValueError):
        raise ValueError(f"each batch must be an (x, y) pair; got a {type(batch).__name__} "
                         "that does not unpack into two") from None
    # non_blocking: the copy from pinned memory overlaps with GPU work.
    return x.to(device, non_blocking=True), y.to(device, non_blocking=True)


def _read_once(tensors):
    """1-element device tensors -> Python floats in one transfer (the sync point);
    under torchrun, each the mean over the ranks (one all-reduce)."""
    values = distributed.mean_over_ranks(torch.cat(tensors).float())
    return values.tolist()  # float32: MPS has no float64


def _batches(data, progress, epoch):
    if progress != "batches":
        return data
    return _tqdm()(data, desc=f"epoch {epoch}", unit="batch", leave=False)


def _tqdm():
    from tqdm import TqdmWarning

    with warnings.catch_warnings():
        # Without ipywidgets, tqdm.auto warns and falls back to text bars: fine.
        warnings.simplefilter("ignore", TqdmWarning)
        from tqdm.auto import tqdm
    return tqdm


def _progress_bar(progress, epochs, first_epoch):
    return _tqdm()(total=epochs, initial=first_epoch - 1, unit="epoch", desc="training",
                   disable=not progress)


# -- divergence -------------------------------------------------------------------------

def _copy_state(state_dict):
    return {k: v.detach().clone() for k, v in state_dict.items()}


def _snapshot(run):
    """Copies (on the device: no sync) of what an optimizer step changes."""
    return {"model": _copy_state(run.model.state_dict()),
            "optimizer": copy.deepcopy(run.optimizer.state_dict()),
            "scheduler": copy.deepcopy(run.scheduler.state_dict()) if run.scheduler else None,
            "scaler": run.scaler.state_dict()}


def _restore(run, saved):
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(saved["scheduler"])
    run.scaler.load_state_dict(saved["scaler"])


def _raise_divergence(run, epoch, totals, bad_step):
    # bad_step 0: every loss was finite but a weight became NaN/inf in the last update.
    step = bad_step or totals.steps
    lr = float(totals.lrs[step - 1])
    restored = (f"Weights, optimizer and scheduler state were restored to the start of "
                f"epoch {epoch}.")
    raise DivergenceError(divergence_message(epoch, step, lr, restored), epoch=epoch, step=step,
                          lr=lr, history=run.state.history)


# -- checkpoints ------------------------------------------------------------------------

def _generators(loaders):
    """The torch.Generators that decide the loaders' shuffling (deduplicated)."""
    found = []
    for loader in loaders:
        sampler = getattr(loader, "sampler", None)
        inner = getattr(getattr(loader, "batch_sampler", None), "sampler", None)
        for owner in (loader, sampler, inner):
            generator = getattr(owner, "generator", None)
            if isinstance(generator, torch.Generator) and all(generator is not g for g in found):
                found.append(generator)
    return found


def _rng_state(loaders):
    kind, keys, pos, has_gauss, cached = np.random.get_state(legacy=True)
    state = {"python": random.getstate(),
             # NumPy's state as plain numbers, so torch.load(weights_only=True) accepts it.
             "numpy": [kind, keys.tolist(), pos, has_gauss, cached],
             "torch": torch.get_rng_state(),
             "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
             "loaders": [g.get_state() for g in _generators(loaders)]}
    if torch.backends.mps.is_available():
        state["mps"] = torch.mps.get_rng_state()
    return state


def _set_rng_state(state, loaders):
    random.setstate(state["python"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    # A checkpoint from a CPU run (or another GPU count) leaves the CUDA generators alone.
    if torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "mps" in state and torch.backends.mps.is_available():
        torch.mps.set_rng_state(state["mps"])
    for generator, saved in zip(_generators(loaders), state["loaders"]):
        generator.set_state(saved)


def _optimizer_kind(optimizer):
    hyperparameters = sorted(k for k in optimizer.param_groups[0] if k != "params")
    return f"{type(optimizer).__name__}({', '.join(hyperparameters)})"


def _optimizer_shapes(optimizer):
    return [[list(p.shape) for p in group["params"]] for group in optimizer.param_groups]


def _checkpoint_payload(run, epoch, finished, loaders):
    optimizer = run.optimizer
    return {"format": CHECKPOINT_FORMAT, "epoch": epoch, "step": run.state.step,
            "finished": finished,
            "model": run.model.state_dict(),
            "optimizer_kind": _optimizer_kind(optimizer),
            "optimizer_shapes": _optimizer_shapes(optimizer),
            "optimizer": optimizer.state_dict(),
            "scheduler_kind": type(run.scheduler).__name__ if run.scheduler else None,
            "scheduler": run.scheduler.state_dict() if run.scheduler else None,
            "scaler": run.scaler.state_dict(),
            "history": run.state.history.rows,
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in run.callbacks],
            "rng": _rng_state(loaders)}


def _save_checkpoint(path, payload):
    """Write to a temp file in the same directory, then rename over `path`:
    a crash mid-write leaves the previous checkpoint whole."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp", dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, "wb") as file:
            torch.save(payload, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)  # atomic on POSIX and Windows
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def _mismatches(saved, run, loaders):
    """Why `saved` does not fit this run (empty when it does)."""
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        return ["it is not a lessons_lib.harness.torch checkpoint"]
    problems = []
    model_shapes = {k: list(v.shape) for k, v in run.model.state_dict().items()}
    saved_shapes = {k: list(v.shape) for k, v in saved["model"].items()}
    if model_shapes != saved_shapes:
        missing = sorted(set(model_shapes) - set(saved_shapes))
        extra = sorted(set(saved_shapes) - set(model_shapes))
        wrong = sorted(k for k in set(model_shapes) & set(saved_shapes)
                       if model_shapes[k] != saved_shapes[k])
        problems.append(f"the model differs (missing {missing[:3]}, unexpected {extra[:3]}, "
                        f"other shapes {wrong[:3]})")
    if saved["optimizer_kind"] != _optimizer_kind(run.optimizer):
        problems.append(f"the optimizer was {saved['optimizer_kind']}, "
                        f"now {_optimizer_kind(run.optimizer)}")
    elif saved["optimizer_shapes"] != _optimizer_shapes(run.optimizer):
        problems.append("the optimizer's parameters differ")
    scheduler_kind = type(run.scheduler).__name__ if run.scheduler else None
    if saved["scheduler_kind"] != scheduler_kind:
        problems.append(f"the scheduler was {saved['scheduler_kind']}, now {scheduler_kind}")
    callback_kinds = [type(cb).__name__ for cb in run.callbacks]
    if [name for name, _ in saved["callbacks"]] != callback_kinds:
        problems.append(f"the callbacks were {[n for n, _ in saved['callbacks']]}, "
                        f"now {callback_kinds}")
    if len(saved["rng"]["loaders"]) != len(_generators(loaders)):
        problems.append("the DataLoaders' shuffling generators differ")
    return problems


def _resume(path, run, *, loaders, epochs):
    """Load the checkpoint at `path` into `run`; returns the first epoch to train."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"cannot resume from checkpoint {os.fspath(path)!r}: it is not "
                              f"readable ({type(error).__name__}: {error}). The file was left "
                              "unchanged; delete it or pass another checkpoint= to start over."
                              ) from error
    problems = _mismatches(saved, run, loaders)
    if problems:
        raise CheckpointError(f"cannot resume from checkpoint {os.fspath(path)!r}: "
                              f"{'; '.join(problems)}. The file was left unchanged; delete it "
                              "or pass another checkpoint= to start over.")
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(saved["scheduler"])
    run.scaler.load_state_dict(saved["scaler"])
    for callback, (_, state) in zip(run.callbacks, saved["callbacks"]):
        callback.load_state_dict(state)
    run.state.history.rows = [dict(row) for row in saved["history"]]
    run.state.epoch = saved["epoch"]
    run.state.step = saved["step"]
    _set_rng_state(saved["rng"], loaders)
    if saved["epoch"] > epochs:
        warnings.warn(f"checkpoint {os.fspath(path)!r} already holds {saved['epoch']} epochs, "
                      f"more than epochs={epochs}; nothing to train", stacklevel=3)
    return epochs + 1 if saved["finished"] else saved["epoch"] + 1
