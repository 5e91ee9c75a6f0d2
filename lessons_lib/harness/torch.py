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
import numbers
import os
import re
import random
import tempfile
import time
import warnings

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from lessons_lib.devices import pick_device, seed_everything
from lessons_lib.harness import (CheckpointError, DivergenceError, checkpoint_mismatch_message,
                                 distributed, divergence_message)
from lessons_lib.harness.callbacks import Callback, TrainState
from lessons_lib.harness.history import History
from lessons_lib.harness.recompute import ActivationCheckpointed

SCHEDULER_INTERVALS = ("batch", "epoch")
CHECKPOINT_FORMAT = "lessons_lib.harness.torch/2"  # 2: with the run's settings
CALLBACK_HOOKS = ("on_train_begin", "on_epoch_begin", "on_before_step", "on_batch_end",
                  "on_epoch_end", "on_train_end", "state_dict", "load_state_dict")


def fit(model, train, *, loss, optimizer, epochs, val=None, scheduler=None,
        scheduler_interval="batch", callbacks=(), metrics=None, device="auto", amp="auto",
        clip_grad_norm=None, progress=True, seed=None, checkpoint=None,
        check_every=None, accumulate=1, activation_checkpointing=False) -> History:
    """Train `model` for `epochs` passes over `train`; returns a `History`.

    train, val: DataLoaders, or any re-iterable of (x, y) batches of torch
        tensors (a list works). NumPy arrays are refused, not converted (a silent
        float64 copy would then clash with the float32 model): convert them once
        with torch.as_tensor, or use lessons_lib.data.torch_loader.
    loss: a function of (prediction, target) returning the batch mean, e.g. nn.MSELoss().
    optimizer: a torch.optim.Optimizer over the model's parameters, or a
        lessons_lib optimizer (anything with `.to_torch(params)`), built here
        on the model's parameters after the model is moved to the device.
    scheduler: a torch LRScheduler on that optimizer, or a lessons_lib schedule
        (anything with `.to_torch(optimizer)`). `scheduler_interval="batch"`
        (the default) steps it after every update, so its step counts updates as
        the course's schedules do; "epoch" steps it after every epoch.
        ReduceLROnPlateau always steps per epoch, on val_loss (train_loss
        without validation data). A schedule that ends before the run does
        (its total_steps < epochs × len(train), per batch) is refused: the
        last updates would run at its final rate (0 for cosine).
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
        uninterrupted run exactly on the CPU. A checkpoint written by a
        different run (other hyperparameter values, optimizer, schedule, model,
        callbacks or data) raises `CheckpointError` listing the differences;
        more epochs than it holds continue it. The folder must take files
        (checked before training); a save keeps the file's permissions.
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
    optimizer state, kept on the device.) The epoch's batches are then read
    again, in the same order: when one holds NaN/inf, the error names it and
    blames the data, not the learning rate.

    Before the first update, the first batch is checked (a forward pass in eval
    mode): the model takes x; the target has the shape, dtype and class range
    the loss needs (MSE/L1/Huber/BCE: the prediction's shape; CrossEntropyLoss:
    long labels of shape (n,) in [0, C), or probabilities shaped like the
    prediction); the loss is one number. In-memory `val` (a TensorDataset or a
    list of batches) must be finite; other `val` is checked when its loss is
    NaN. Each mistake raises a ValueError naming the argument and the fix.
    """
    _check_arguments(epochs=epochs, scheduler_interval=scheduler_interval, amp=amp,
                     clip_grad_norm=clip_grad_norm, progress=progress, check_every=check_every,
                     train=train, val=val, loss=loss, callbacks=callbacks)
    _check_scale_arguments(accumulate, activation_checkpointing, model)
    device = distributed.setup() or pick_device(device)  # under torchrun: this rank's device
    if checkpoint is not None:
        _prepare_checkpoint_folder(checkpoint)
    if seed is not None:
        seed_everything(seed)
    model.to(device)
    # -- data parallelism (a no-op in a single process) and memory options --
    unsharded_train, train = train, distributed.shard(train)
    progress = progress if distributed.is_main() else False
    optimizer = _build_optimizer(optimizer, model)
    scheduler = _build_scheduler(scheduler, optimizer)
    _check_schedule_length(scheduler, scheduler_interval, epochs, train, accumulate)
    _check_finite_in_memory(val, "val")
    amp_dtype = _amp_dtype(amp, device)
    run = _Run(model=model, loss=loss, optimizer=optimizer, scheduler=scheduler,
               scheduler_per_batch=scheduler is not None and scheduler_interval == "batch"
               and not isinstance(scheduler, ReduceLROnPlateau),
               device=device, amp_dtype=amp_dtype,
               scaler=torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16),
               clip_grad_norm=clip_grad_norm, callbacks=list(callbacks),
               metrics=_resolve_metrics(metrics, loss), check_every=check_every)
    # what a checkpoint must match (it fingerprints the data: only when one is kept)
    run.settings = _settings(run, unsharded_train, val) if checkpoint is not None else None
    run.pending_checks = (train, val)          # _check_first_batch runs on the first batch
    run.val_checked = val is None              # _evaluate checks the first val batch's target
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
                     train, val, loss, callbacks):
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs <= 0:
        raise ValueError(f"epochs must be a positive int; got epochs={epochs!r}")
    if scheduler_interval not in SCHEDULER_INTERVALS:
        raise ValueError(f"scheduler_interval must be 'batch' (step the scheduler after every "
                         f"update) or 'epoch'; got scheduler_interval={scheduler_interval!r}")
    if not (amp is True or amp is False or amp == "auto"):
        raise ValueError(f"amp must be 'auto', True or False; got amp={amp!r}")
    if clip_grad_norm is not None and not (
            isinstance(clip_grad_norm, numbers.Real) and not isinstance(clip_grad_norm, bool)
            and 0 < clip_grad_norm < math.inf):
        raise ValueError(f"clip_grad_norm must be a positive number or None; "
                         f"got clip_grad_norm={clip_grad_norm!r} "
                         f"({type(clip_grad_norm).__name__}), e.g. clip_grad_norm=1.0")
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
    _check_loss(loss)
    _check_callbacks(callbacks)


def _check_loss(loss):
    if isinstance(loss, type):
        name = ("nn." if loss.__module__.startswith("torch.nn") else "") + loss.__name__
        raise ValueError(f"loss must be a loss object or function; got the class {name} "
                         f"itself: write loss={name}() (with parentheses)")
    if not callable(loss):
        raise ValueError(f"loss must be a function of (prediction, target), e.g. "
                         f"nn.MSELoss(); got loss={loss!r}")
    if getattr(loss, "reduction", None) not in (None, "mean", "sum", "batchmean"):
        raise ValueError(f"loss must return one number per batch; got "
                         f"{type(loss).__name__}(reduction={loss.reduction!r}), one loss per "
                         "sample: use reduction='mean' (the default)")


def _check_callbacks(callbacks):
    if isinstance(callbacks, Callback) or isinstance(callbacks, type) or callable(callbacks):
        raise ValueError(f"callbacks must be a list of callbacks; got callbacks={callbacks!r}: "
                         "write callbacks=[...]")
    for callback in callbacks:
        if isinstance(callback, type):
            raise ValueError(f"callbacks must hold callback objects; got the class "
                             f"{callback.__name__} itself: write {callback.__name__}(...) "
                             "(with parentheses)")
        if not all(callable(getattr(callback, hook, None)) for hook in CALLBACK_HOOKS):
            raise ValueError(f"callbacks must hold harness.callbacks.Callback objects; got "
                             f"{callback!r} ({type(callback).__name__}). To run code after "
                             "every epoch, subclass Callback and override "
                             "on_epoch_end(self, state, row)")


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


# -- checks before the first update ----------------------------------------------------
# Mistakes that torch reports deep inside (or not at all: a broadcast loss trains on wrong
# numbers) are caught on the first batch, where shapes and dtypes are known, with an error
# that names the argument, the value and the fix. They run once per `fit`, not per step.

ELEMENTWISE_LOSSES = (torch.nn.MSELoss, torch.nn.L1Loss, torch.nn.HuberLoss,
                      torch.nn.SmoothL1Loss, torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss)
CLASS_LOSSES = (torch.nn.CrossEntropyLoss, torch.nn.NLLLoss)
LABEL_DTYPES = (torch.long, torch.uint8)  # what CrossEntropyLoss/NLLLoss accept as labels


def _check_first_batch(run, batch):
    """Before the first update: the batch is a pair of tensors the model takes, and
    its target is what the loss needs (shape, dtype, class range); the loss is one
    number. In-memory `train`/`val` (TensorDataset, list of batches) are checked
    whole for class labels, and a few `val` rows like the batch."""
    train, val = run.pending_checks
    run.pending_checks = None
    x, y = _checked_tensors(batch, "train", run.device)
    pred = _checked_forward(run, x, "train")
    _check_target(run.loss, pred, y, "train", host_y=tuple(batch)[1])
    _check_loss_value(run, pred, y)
    val_rows = _in_memory_sample(val)
    if val_rows is not None:
        val_x, val_y = _checked_tensors(val_rows, "val", run.device)
        _check_target(run.loss, _checked_forward(run, val_x, "val"), val_y, "val",
                      host_y=val_rows[1])
    if isinstance(run.loss, CLASS_LOSSES) and not y.is_floating_point():
        for name, data in (("train", train), ("val", val)):
            labels = [labels.reshape(-1) for _, labels in _in_memory(data) or []]
            if labels:  # all batches at once: one host read, not one per batch
                _check_class_range(run.loss, torch.cat(labels), pred.shape[1], name)


def _checked_tensors(batch, name, device):
    try:
        x, y = batch
    except (TypeError, ValueError):
        raise ValueError(f"each batch of {name} must be an (x, y) pair; got a "
                         f"{type(batch).__name__} that does not unpack into two") from None
    for part, value in (("x", x), ("y", y)):
        if isinstance(value, np.ndarray):
            raise ValueError(
                f"{name} gives NumPy arrays ({part} is a {value.dtype} ndarray of shape "
                f"{value.shape}); the torch harness trains on torch tensors. Convert once, "
                f"before fit: DataLoader(TensorDataset(torch.as_tensor(x, dtype=torch.float32), "
                f"torch.as_tensor(y)), batch_size=...) or lessons_lib.data.torch_loader(x, y, "
                f"batch_size)")
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"each batch of {name} must be a pair of torch tensors; its {part} "
                             f"is a {type(value).__name__}")
    return _to_device((x, y), device)


def _checked_forward(run, x, name):
    """model(x) in eval mode without gradients (no dropout draw, no batch-norm update:
    training is unchanged), re-raising a shape or dtype mismatch clearly."""
    model, was_training = run.model, run.model.training
    model.eval()
    try:
        with torch.no_grad(), _autocast(run):
            return model(x)
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as error:
        raise ValueError(f"the model cannot take {name}'s inputs: model(x) failed for x of "
                         f"shape {tuple(x.shape)} ({x.dtype}){_input_hint(model, x)}. "
                         f"(torch: {error})") from error
    finally:
        model.train(was_training)


def _input_hint(model, x):
    weight = next((p for p in model.parameters() if p.is_floating_point()), None)
    if x.is_floating_point() and weight is not None and x.dtype != weight.dtype:
        return (f": x is {x.dtype} but the model's weights are {weight.dtype}; convert x "
                f"with x.to({weight.dtype}) (NumPy arrays are float64: torch.as_tensor(a, "
                f"dtype={weight.dtype}))")
    first = next((m for m in model.modules() if next(m.parameters(False), None) is not None),
                 None)
    if isinstance(first, torch.nn.Linear) and x.ndim >= 1 and x.shape[-1] != first.in_features:
        return (f": the model's first layer {first} expects {first.in_features} features per "
                f"sample, x has {x.shape[-1]}; make them agree (the data's columns or "
                f"in_features={x.shape[-1]})")
    if isinstance(first, torch.nn.modules.conv._ConvNd) and x.ndim >= 2 \
            and x.shape[1] != first.in_channels:
        return (f": the model's first layer {first} expects {first.in_channels} channels "
                f"(x of shape (batch, {first.in_channels}, ...)), x has {x.shape[1]} in "
                "dimension 1; channels go first in torch (x.permute to move them)")
    return ""


def _check_target(loss, pred, y, name, host_y=None):
    """The target `y` against what `loss` needs, given the prediction `pred`.
    Value checks (class range, [0, 1]) read `host_y`, the batch as it came (on the
    CPU, usually: then no GPU sync), else `y`."""
    host_y = y if host_y is None else host_y
    if not (isinstance(pred, torch.Tensor) and isinstance(y, torch.Tensor)):
        return  # a model or loss of its own kind: only the loss value is checked
    what = f"loss={_loss_name(loss)}"
    got = f"{name}'s targets are {y.dtype} of shape {tuple(y.shape)}"
    if isinstance(loss, ELEMENTWISE_LOSSES):
        if pred.shape != y.shape:
            shape = ", ".join(["-1"] + [str(n) for n in pred.shape[1:]])
            raise ValueError(
                f"{what} compares prediction and target element by element, so their shapes "
                f"must be equal; the model predicts shape {tuple(pred.shape)} but {got}. torch "
                f"would broadcast them and train on wrong numbers. Give the targets the "
                f"prediction's shape: y.reshape({shape})"
                + (" (y[:, None] for one output)" if pred.ndim == 2 == y.ndim + 1 else ""))
        if not y.is_floating_point():
            raise ValueError(f"{what} needs floating-point targets; {got}: convert them with "
                             "y.float() (torch.as_tensor(y, dtype=torch.float32))")
        if isinstance(loss, (torch.nn.BCELoss, torch.nn.BCEWithLogitsLoss)):
            low, high = torch.aminmax(host_y.float())
            if low < 0 or high > 1:  # one host read, once per fit
                raise ValueError(f"{what} needs targets in [0, 1] (0/1 labels or "
                                 f"probabilities); {name}'s targets range from {float(low):g} "
                                 f"to {float(high):g}")
    elif isinstance(loss, CLASS_LOSSES):
        if pred.ndim < 2:
            raise ValueError(f"{what} needs a prediction of shape (batch, classes); the model "
                             f"predicts shape {tuple(pred.shape)}. With one output per sample "
                             "use BCEWithLogitsLoss and float 0/1 targets")
        classes = pred.shape[1]
        labels_shape = (pred.shape[0],) + tuple(pred.shape[2:])
        if y.is_floating_point() and y.shape == pred.shape \
                and isinstance(loss, torch.nn.CrossEntropyLoss):
            return  # class probabilities, one row per sample
        valid = (f"integer class labels (torch.long) of shape {labels_shape} with values "
                 f"0..{classes - 1}")
        if isinstance(loss, torch.nn.CrossEntropyLoss):
            valid += f", or class probabilities of the prediction's shape {tuple(pred.shape)}"
        fixes = "".join(f for f, needed in ((".long()", y.dtype not in LABEL_DTYPES),
                                            (".reshape(-1)", tuple(y.shape) != labels_shape))
                        if needed)
        if fixes:
            raise ValueError(f"{what} needs {valid}; {got}: use y{fixes}")
        _check_class_range(loss, host_y, classes, name)


def _check_class_range(loss, labels, classes, name):
    counted = labels[labels != loss.ignore_index]
    if counted.numel() == 0:
        return
    low, high = (int(v) for v in torch.aminmax(counted.long()))  # one host read
    if low < 0 or high >= classes:
        bad = high if high >= classes else low
        raise ValueError(f"{name} holds the class label {bad}, but the model predicts "
                         f"{classes} classes, so labels must be in 0..{classes - 1}: give the "
                         f"last layer one output per class (out_features="
                         f"{max(high + 1, classes)} for labels 0..{high}) or fix the labels")


def _check_loss_value(run, pred, y):
    """The loss of the first batch is one number (the optimizer descends a scalar)."""
    try:
        with torch.no_grad(), _autocast(run):
            value = run.loss(pred, y)
    except (RuntimeError, ValueError, IndexError) as error:
        raise ValueError(f"loss={_loss_name(run.loss)} failed on train's first batch (prediction "
                         f"{tuple(pred.shape)} {pred.dtype}, target {tuple(y.shape)} "
                         f"{y.dtype}): {error}") from error
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        raise ValueError(f"loss must return one number per batch (its mean); "
                         f"loss={_loss_name(run.loss)} returned {shape} on train's first batch. "
                         "Use reduction='mean' (the default), or return loss.mean() from "
                         "your function")


def _loss_name(loss):
    if isinstance(loss, torch.nn.Module):
        return f"{type(loss).__name__}()"
    return getattr(loss, "__name__", type(loss).__name__)


def _check_schedule_length(scheduler, interval, epochs, train, accumulate=1):
    """A schedule that ends before the run would train its last updates at its final
    rate (0 for cosine and polynomial; OneCycleLR makes torch stop with an error):
    refused, naming both numbers. Schedules that stay at their peak are left alone."""
    if scheduler is None or isinstance(scheduler, ReduceLROnPlateau):
        return
    per_batch = interval == "batch"
    try:
        per_epoch = -(-len(train) // accumulate)  # one update per group of batches
        updates = epochs * per_epoch if per_batch else epochs
    except TypeError:
        return  # an unsized train: its length is unknown before the run
    course = getattr(scheduler, "schedule", None)
    if course is not None and hasattr(course, "total_steps"):
        name, length, setting = repr(course), course.total_steps, "total_steps"
        if course(length) == course.lr:
            return  # it ends at its peak (constant, or warmup then flat): nothing is lost
        end = f"at the schedule's final learning rate {course(length):g}"
    elif isinstance(scheduler, torch.optim.lr_scheduler.OneCycleLR):
        name, length, setting = "OneCycleLR", scheduler.total_steps, "total_steps"
        end = "past its end, where torch stops with an error"
    elif isinstance(scheduler, torch.optim.lr_scheduler.PolynomialLR):
        name, length, setting = "PolynomialLR", scheduler.total_iters, "total_iters"
        end = "at learning rate 0"
    else:
        return
    if updates > length:
        if not per_batch:
            run, formula = f"epochs={epochs}, one scheduler step per epoch", "epochs"
        elif accumulate == 1:
            run, formula = f"epochs={epochs} × {len(train)} batches of train", "epochs * len(train)"
        else:
            run = (f"epochs={epochs} × {per_epoch} updates: {len(train)} batches of train "
                   f"in groups of accumulate={accumulate}")
            formula = "epochs * ceil(len(train) / accumulate)"
        raise ValueError(f"scheduler {name} has {setting}={length}, but this run takes "
                         f"{updates} scheduler steps ({run}): its last {updates - length} "
                         f"would run {end}. Build the schedule with {setting}={updates} "
                         f"({formula}), or train "
                         "fewer epochs")


def _in_memory(data):
    """[(x, y)] tensors of `data` that are already in memory (a DataLoader over a
    TensorDataset, or a list of batches); None for anything else (it is read lazily)."""
    dataset = getattr(data, "dataset", None)
    if isinstance(dataset, torch.utils.data.TensorDataset) and len(dataset.tensors) == 2:
        return [tuple(dataset.tensors)]
    if isinstance(data, (list, tuple)) and all(
            isinstance(b, (list, tuple)) and len(b) == 2
            and all(isinstance(t, torch.Tensor) for t in b) for b in data):
        return [tuple(b) for b in data]
    return None


def _in_memory_sample(data, rows=16):
    tensors = _in_memory(data)
    if not tensors:
        return None
    x, y = tensors[0]
    return x[:rows], y[:rows]


def _nonfinite_counts(tensor):
    """'3 NaN values and 1 infinite value', or '' when every value is finite."""
    if not isinstance(tensor, torch.Tensor) or not tensor.is_floating_point():
        return ""
    nan, inf = int(torch.isnan(tensor).sum()), int(torch.isinf(tensor).sum())
    parts = [f"{n} {kind} value{'s' if n > 1 else ''}"
             for n, kind in ((nan, "NaN"), (inf, "infinite")) if n]
    return " and ".join(parts)


def _nonfinite_description(batch, where):
    """'the inputs of batch 7 hold 3 NaN values', or '' for finite data."""
    try:
        x, y = batch
    except (TypeError, ValueError):
        return ""
    return "; ".join(f"the {part} of {where} hold {counts}"
                     for part, counts in (("inputs", _nonfinite_counts(x)),
                                          ("targets", _nonfinite_counts(y))) if counts)


def _nonfinite_data_error(name, problem):
    return ValueError(f"{name} holds non-finite values ({problem}), so every "
                      f"{'val_loss' if name == 'val' else 'loss'} would be nan: drop or impute "
                      f"them (np.isfinite finds them) before training")


def _check_finite_in_memory(data, name):
    """In-memory data (TensorDataset, list of batches) is checked whole before training."""
    for i, batch in enumerate(_in_memory(data) or []):
        where = f"batch {i + 1} of {name}" if isinstance(data, (list, tuple)) else name
        problem = _nonfinite_description(batch, where)
        if problem:
            raise _nonfinite_data_error(name, problem)


def _order_state(data):
    """What decides the order of `data`'s batches: torch's global generator (a
    DataLoader without its own draws its shuffle and worker seeds there) and the
    loader's generators. A few microseconds: taken every epoch."""
    return torch.get_rng_state(), [g.get_state() for g in _generators((data,))]


def _set_order_state(data, state):
    torch.set_rng_state(state[0])
    for generator, saved in zip(_generators((data,)), state[1]):
        generator.set_state(saved)


def _first_nonfinite_batch(data, order, last=None, label="batch"):
    """Replay `data` from `order` (an _order_state taken before the pass: the same
    shuffle) up to batch `last`: (step, description) of the first batch holding
    NaN/inf, or None. Only called after a non-finite loss: no cost while training."""
    now = _order_state(data)
    _set_order_state(data, order)
    try:
        for step, batch in enumerate(data, start=1):
            if last is not None and step > last:
                break
            problem = _nonfinite_description(batch, f"{label} {step}")
            if problem:
                return step, problem
    finally:
        _set_order_state(data, now)
    return None


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
    order = _order_state(train)  # to replay this epoch's batches if a loss is NaN
    train_out = _train_epoch(run, _batches(train, progress, epoch))
    val_order = _order_state(val)
    val_out = _evaluate(run, val) if val is not None else None
    params_finite = torch.stack([p.isfinite().all() for p in run.model.parameters()]).all()
    # The epoch's one read of device values: every batch loss, and finiteness.
    figures = _read_once([params_finite[None], train_out.stacked()]
                         + ([val_out.stacked()] if val_out is not None else []))
    train_losses = figures[1:1 + train_out.steps]
    bad_step = next((i + 1 for i, v in enumerate(train_losses) if not math.isfinite(v)), 0)
    if bad_step or figures[0] < 1:
        _restore(run, saved)
        _raise_divergence(run, epoch, train_out, bad_step,
                          _first_nonfinite_batch(train, order, bad_step or train_out.steps))
    row = {"epoch": epoch, "train_loss": train_out.mean(train_losses)}
    if val_out is not None:
        row["val_loss"] = val_out.mean(figures[1 + train_out.steps:])
        if not math.isfinite(row["val_loss"]):  # the data, or (rarely) the model?
            found = _first_nonfinite_batch(val, val_order, label="val's batch")
            if found:
                raise _nonfinite_data_error("val", found[1])
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

    def __init__(self, lr=None):
        self.losses = []
        self.sizes = []     # batch sizes: shapes, which the host knows without a sync
        self.lrs = []       # the learning rate of each step, where it can change
        self.lr = lr        # the epoch's learning rate, where it cannot
        self.outputs = _Outputs()

    def lr_at(self, step):
        """The learning rate of update `step` (1-based), for the divergence message."""
        return self.lrs[step - 1] if self.lrs else self.lr

    @property
    def steps(self):
        return len(self.losses)

    def add(self, batch_loss, n):
        self.losses.append(batch_loss.detach())  # one number; stacked at the epoch's end
        self.sizes.append(n)

    def stacked(self, last=None):
        """The losses (all, or the `last` ones) as one 1-d tensor on the device."""
        return torch.stack(self.losses[-last if last else 0:]).reshape(-1)

    def mean(self, values):
        """The epoch's loss per sample, from the batch means read back."""
        return sum(v * n for v, n in zip(values, self.sizes)) / sum(self.sizes)

    def any_nonfinite(self, last):
        """Whether one of the `last` losses is NaN/inf (one sync: check_every only)."""
        return not self.stacked(last).isfinite().all().item()


def _train_epoch(run, batches):
    if run.accumulate > 1:
        return _train_epoch_accumulating(run, batches)
    model, optimizer, scaler, device = run.model, run.optimizer, run.scaler, run.device
    # Per step, only what the textbook loop does plus keeping the loss. Left out when
    # they would do nothing (each measured 0.3-1% of a small CPU step): the grad
    # scaler's calls without fp16, autocast without AMP, hooks that no callback
    # overrides, the learning rate's record while nothing can change it, and
    # look-ups of settings that cannot change during the epoch.
    fp16, amp = scaler.is_enabled(), run.amp_dtype is not None
    before_step_hooks = _hooks(run, "on_before_step")
    prepare = fp16 or run.clip_grad_norm is not None or before_step_hooks
    batch_end_hooks = _hooks(run, "on_batch_end")
    per_batch_scheduler = run.scheduler if run.scheduler_per_batch else None
    hooks_see_state = before_step_hooks or batch_end_hooks
    lr_moves = per_batch_scheduler or hooks_see_state
    metrics, check_every, state = run.metrics, run.check_every, run.state
    model.train()
    totals = _EpochLosses(lr=optimizer.param_groups[0]["lr"])
    losses, sizes, steps_before = totals.losses, totals.sizes, state.step
    for batch in batches:
        if run.pending_checks:                       # the run's first batch only
            _check_first_batch(run, batch)
        x, y = _to_device(batch, device)
        if amp:
            with _autocast(run):
                pred = run.forward(x)
                batch_loss = run.loss(pred, y)
        else:
            pred = run.forward(x)                    # 1. forward (the DDP wrapper, if any)
            batch_loss = run.loss(pred, y)           # 2. loss
        optimizer.zero_grad(set_to_none=True)        # 3. zero the gradients
        (scaler.scale(batch_loss) if fp16 else batch_loss).backward()  # 4. backward
        if prepare:
            _prepare_gradients(run)                  # unscale (fp16), clip, on_before_step
        if lr_moves:
            totals.lrs.append(optimizer.param_groups[0]["lr"])
        if fp16:
            scaler.step(optimizer)                   # 5. step (skipped on an fp16 overflow)
            scaler.update()
        else:
            optimizer.step()                         # 5. step
        if per_batch_scheduler is not None:
            per_batch_scheduler.step()
        # detached: holding the step's autograd graph into the next step cost ~2%
        # of a small CPU step (its memory is not reused by the next forward)
        losses.append(batch_loss.detach())
        sizes.append(y.shape[0])
        if metrics:
            totals.outputs.add(pred, y)
        if hooks_see_state:  # what hooks read, kept current only where a hook reads it
            state.step, state.batch_loss = steps_before + len(losses), losses[-1]
            for hook in batch_end_hooks:
                hook(state)
        if check_every and len(losses) % check_every == 0 \
                and totals.any_nonfinite(check_every):
            break  # diverged: the epoch's end raises
    if not losses:
        raise ValueError("train yielded no batches")
    state.step, state.batch_loss = steps_before + len(losses), losses[-1]
    return totals


def _hooks(run, name):
    """The callbacks' `name` hooks that do something (not Callback's empty one)."""
    return [getattr(callback, name) for callback in run.callbacks
            if getattr(type(callback), name, None) is not getattr(Callback, name)]


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
        run.state.batch_loss = batch_loss.detach()  # detached, as above
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
            if not run.val_checked:  # the first val batch of the run
                run.val_checked = True
                _check_target(run.loss, pred, y, "val", host_y=tuple(batch)[1])
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


_NO_AUTOCAST = contextlib.nullcontext()  # reusable; cheaper than a disabled autocast


def _autocast(run):
    if run.amp_dtype is None:
        return _NO_AUTOCAST
    return torch.autocast(run.device.type, dtype=run.amp_dtype)


def _to_device(batch, device):
    try:
        x, y = batch
    except (TypeError, ValueError):
        raise ValueError(f"each batch must be an (x, y) pair; got a {type(batch).__name__} "
                         "that does not unpack into two") from None
    # non_blocking: the copy from pinned memory overlaps with GPU work. A tensor
    # already there is kept: .to() costs ~0.7 µs a call even then, the test 0.16.
    return (x if x.device == device else x.to(device, non_blocking=True),
            y if y.device == device else y.to(device, non_blocking=True))


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
            "optimizer": _copy_nested(run.optimizer.state_dict()),
            "scheduler": copy.deepcopy(run.scheduler.state_dict()) if run.scheduler else None,
            "scaler": run.scaler.state_dict()}


def _copy_nested(value):
    """deepcopy for a state dict: tensors cloned, dicts and lists rebuilt, and
    immutable leaves shared (deepcopy's memo and dispatch took ~0.3 ms per epoch
    for a small model's optimizer, 1% of a 30 ms epoch)."""
    if isinstance(value, torch.Tensor):
        return value.detach().clone()
    if isinstance(value, dict):
        return {k: _copy_nested(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return type(value)(_copy_nested(v) for v in value)
    if value is None or isinstance(value, (bool, int, float, complex, str)):
        return value
    return copy.deepcopy(value)


def _restore(run, saved):
    run.model.load_state_dict(saved["model"])
    run.optimizer.load_state_dict(saved["optimizer"])
    if run.scheduler is not None:
        run.scheduler.load_state_dict(saved["scheduler"])
    run.scaler.load_state_dict(saved["scaler"])


def _raise_divergence(run, epoch, totals, bad_step, bad_data=None):
    """bad_step 0: every loss was finite but a weight became NaN/inf in the last update.
    bad_data: (step, what) of the epoch's first batch holding NaN/inf data, if any: that
    batch is the cause (its update can poison the weights while its loss stays finite,
    e.g. sigmoid(-inf) = 0 with gradient 0 * inf = NaN), not the learning rate."""
    step, problem = bad_data or (bad_step or totals.steps, None)
    lr = float(totals.lr_at(step))
    restored = (f"Weights, optimizer and scheduler state were restored to the start of "
                f"epoch {epoch}.")
    raise DivergenceError(divergence_message(epoch, step, lr, restored, data_problem=problem),
                          epoch=epoch, step=step, lr=lr, history=run.state.history)


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


# Optimizer options that choose an implementation, not the numbers it computes (and
# initial_lr, a scheduler's copy of lr).
NOT_SETTINGS = ("params", "foreach", "fused", "capturable", "differentiable", "initial_lr")
# Scheduler state that counts progress (or copies the optimizer's lr) rather than
# setting the schedule.
SCHEDULER_COUNTERS = ("last_epoch", "_step_count", "_last_lr", "_get_lr_called_within_step",
                      "_is_initial", "verbose", "best", "num_bad_epochs", "cooldown_counter",
                      "base_lrs")


def _plain(value):
    """`value` as numbers, strings and lists (comparable, and torch.load(weights_only=True)
    accepts them)."""
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"<{type(value).__name__}>"  # e.g. a function: its address would always differ


def _fingerprint(tensor, sample=1 << 16):
    """A cheap pair of numbers that tells two data sets apart: the sum and the sum of
    squares of at most `sample` evenly spaced values."""
    flat = tensor.detach().reshape(-1)
    if flat.is_complex() or flat.numel() == 0:
        return [0.0, 0.0]
    flat = torch.nan_to_num(flat[::max(1, flat.numel() // sample)].double())
    return [float(flat.sum()), float(flat.square().sum())]


def _data_settings(data, name):
    facts = {}
    if hasattr(data, "__len__"):
        facts[f"{name} batches"] = len(data)
    if getattr(data, "batch_size", None) is not None:
        facts[f"{name} batch_size"] = data.batch_size
    tensors = _in_memory(data)
    if tensors:
        facts[f"{name} shapes"] = [list(t.shape) for t in tensors[0]]
        facts[f"{name} dtypes"] = [str(t.dtype) for t in tensors[0]]
        facts[f"{name} fingerprint"] = [_fingerprint(t) for t in tensors[0]] + (
            [_fingerprint(t) for t in tensors[-1]] if len(tensors) > 1 else [])
    return facts


def _settings(run, train, val):
    """What makes a run this run: {what: value}, compared on resume. Taken at the start
    of `fit`, before training changes the learning rate."""
    optimizer, scheduler = run.optimizer, run.scheduler
    settings = {"optimizer": type(optimizer).__name__}
    groups = optimizer.param_groups
    for i, group in enumerate(groups):
        prefix = f"param group {i} " if len(groups) > 1 else ""
        settings.update({prefix + key: _plain(value) for key, value in group.items()
                         if key not in NOT_SETTINGS})
    settings["scheduler"] = type(scheduler).__name__ if scheduler else None
    course = getattr(scheduler, "schedule", None)
    if course is not None:
        settings["schedule"] = repr(course)  # a lessons_lib schedule: its config
    elif scheduler is not None:
        settings.update({f"scheduler {key.lstrip('_')}": _plain(value)
                         for key, value in scheduler.state_dict().items()
                         if key not in SCHEDULER_COUNTERS})
    settings["model"] = repr(run.model).splitlines()
    settings["parameter shapes"] = {
        k: "uninitialized" if isinstance(v, torch.nn.parameter.UninitializedTensorMixin)
        else list(v.shape) for k, v in run.model.state_dict().items()}  # (lazy layers)
    settings["callbacks"] = [type(cb).__name__ for cb in run.callbacks]
    settings.update(_data_settings(train, "train"))
    if val is not None:
        settings.update(_data_settings(val, "val"))
    return settings


def _differences(saved, now):
    """[(what, in the checkpoint, now)] for checkpoint_mismatch_message."""
    missing = "(not set)"
    found = []
    for key in list(saved) + [k for k in now if k not in saved]:
        before, after = saved.get(key, missing), now.get(key, missing)
        if before == after:
            continue
        if key == "model" and before != missing and after != missing:
            # The first line that differs says which layer changed.
            line = next(i for i, (a, b) in enumerate(zip(before + [""], after + [""])) if a != b)
            before, after = (before + [""])[line].strip(), (after + [""])[line].strip()
        elif key == "parameter shapes" and before != missing and after != missing:
            changed = [k for k in dict.fromkeys(list(before) + list(after))
                       if before.get(k) != after.get(k)][:3]
            before = {k: before.get(k) for k in changed}
            after = {k: after.get(k) for k in changed}
        found.append((key, before, after))
    return found


def _checkpoint_payload(run, epoch, finished, loaders):
    optimizer = run.optimizer
    return {"format": CHECKPOINT_FORMAT, "epoch": epoch, "step": run.state.step,
            "finished": finished,
            "settings": run.settings,
            "model": run.model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": run.scheduler.state_dict() if run.scheduler else None,
            "scaler": run.scaler.state_dict(),
            "history": run.state.history.rows,
            "callbacks": [[type(cb).__name__, cb.state_dict()] for cb in run.callbacks],
            "rng": _rng_state(loaders)}


def _temp_prefix(path):
    return os.path.basename(path) + ".tmp"


def _prepare_checkpoint_folder(checkpoint):
    """Before training: the checkpoint's folder exists and takes files (else a clear
    error now, not after the first epoch), and temp files that a killed save of this
    checkpoint left behind are removed."""
    path = os.path.abspath(os.fspath(checkpoint))
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise ValueError(f"checkpoint={os.fspath(checkpoint)!r} is a folder; pass a file path "
                         "in it, e.g. checkpoint='runs/model.pt'")
    try:
        os.makedirs(folder, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(path), dir=folder)
        os.close(fd)
        os.remove(probe)
    except OSError as error:
        raise ValueError(f"checkpoint={os.fspath(checkpoint)!r} cannot be written: its folder "
                         f"{folder!r} does not take new files ({error.strerror or error}). Pass "
                         "a checkpoint path in a writable folder") from error
    stale = re.compile(re.escape(_temp_prefix(path)) + r"[a-z0-9_]{8}")  # mkstemp's names
    for name in os.listdir(folder):
        if stale.fullmatch(name):
            with contextlib.suppress(FileNotFoundError):
                os.remove(os.path.join(folder, name))


def _file_mode(path):
    """The mode a save gives the checkpoint: the old file's, or what open() would give a
    new one (0o666 less the umask), not mkstemp's owner-only 0o600."""
    try:
        return os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _save_checkpoint(path, payload):
    """Write to a temp file in the same directory, then rename over `path`:
    a crash mid-write leaves the previous checkpoint whole."""
    path = os.path.abspath(os.fspath(path))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(path), dir=os.path.dirname(path))
    try:
        os.chmod(tmp, _file_mode(path))
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
    """[(what, in the checkpoint, now)]: how the run that wrote `saved` differs from
    this one (hyperparameter values, schedule, model, callbacks, data); empty if not."""
    if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
        written = saved.get("format") if isinstance(saved, dict) else type(saved).__name__
        return [("format", written, CHECKPOINT_FORMAT)]
    found = _differences(saved["settings"], run.settings)
    generators = len(_generators(loaders))
    if len(saved["rng"]["loaders"]) != generators:
        found.append(("DataLoader shuffling generators", len(saved["rng"]["loaders"]),
                      generators))
    return found


def _resume(path, run, *, loaders, epochs):
    """Load the checkpoint at `path` into `run`; returns the first epoch to train."""
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(f"cannot resume from checkpoint {os.fspath(path)!r}: it is not "
                              f"readable ({type(error).__name__}: {error}). The file was left "
                              "unchanged; delete it or pass another checkpoint= to start over."
                              ) from error
    differences = _mismatches(saved, run, loaders)
    if differences:
        raise CheckpointError(checkpoint_mismatch_message(os.fspath(path), differences))
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
