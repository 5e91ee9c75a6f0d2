"""Data-parallel training for `harness.torch.fit`: what changes under `torchrun`.

`torchrun --nproc_per_node=N script.py` starts N copies of the script with
RANK, LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT in the environment.
Each copy (a *rank*) holds the whole model and trains on its own 1/N of every
epoch; after each backward pass DistributedDataParallel averages the
gradients over the ranks (an all-reduce), so every rank takes the same step:

    g = (1/N) Σ_r g_r,   g_r = ∇ mean loss over rank r's B samples

which is the gradient of the mean loss over the combined batch of N·B samples.
So N processes with batch B train exactly as one process with batch N·B
(up to round-off in the order of the additions).

Without those variables (a notebook, `python script.py`) every helper here
is a no-op: world size 1, rank 0, the loader and the model unchanged.
"""
from __future__ import annotations

import builtins
import datetime
import gc
import os

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler


def launched() -> bool:
    """Whether this process was started by torchrun (WORLD_SIZE in the environment)."""
    return "WORLD_SIZE" in os.environ and "RANK" in os.environ


def setup(timeout_s=120):
    """Join the process group torchrun described in the environment (once).

    Backend: NCCL when CUDA is present (one GPU per rank: LOCAL_RANK picks
    it), gloo on the CPU. Returns the device this rank should train on, or
    None when the process was not launched by torchrun.
    """
    if not launched():
        return None
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(local_rank())
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if cuda else "gloo",
                                timeout=datetime.timedelta(seconds=timeout_s))
    return torch.device("cuda", local_rank()) if cuda else torch.device("cpu")


def teardown():
    """Leave the process group (torchrun's scripts call it at the end). All
    ranks meet first: a rank that tears its connections down while another
    still talks over them can abort that one (seen with gloo)."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP wrappers left in reference cycles hold the group: free them now
        dist.barrier()
        dist.destroy_process_group()


def active() -> bool:
    """Whether a process group with more than one rank is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if active() else 0


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", 0))


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0: the one process that prints, shows progress and writes files."""
    return rank() == 0


def print0(*args, **kwargs):
    """`print` on rank 0 only (N copies of every line help no one)."""
    if is_main():
        builtins.print(*args, **kwargs)


def barrier():
    if active():
        dist.barrier()


def shard(loader):
    """Each rank's share of `loader`: the same DataLoader settings, with a
    `DistributedSampler` that gives rank r the samples r, r + N, r + 2N, ...
    of the (shuffled, when the loader shuffles) epoch order. Call
    `set_epoch(loader, epoch)` before each epoch so the shuffle changes. A loader
    that is not a DataLoader (a list of batches) cannot be split: ValueError.

    The epoch order depends on the sampler's seed and the epoch only, not on
    any random state, so every rank agrees on it and a resumed run replays it.
    """
    if not active():
        return loader
    if not isinstance(loader, DataLoader):
        raise ValueError("train must be a torch DataLoader under torchrun, so that each rank "
                         f"gets its own share of the data; got {type(loader).__name__}")
    if isinstance(loader.sampler, DistributedSampler):
        return loader
    shuffle = not isinstance(loader.sampler, torch.utils.data.SequentialSampler)
    # A seed every rank knows without communicating: the loader's generator's,
    # else torch's (fit(seed=...) sets it to the same value on every rank).
    generator = loader.generator
    seed = generator.initial_seed() if generator is not None else torch.initial_seed()
    sampler = DistributedSampler(loader.dataset, num_replicas=world_size(), rank=rank(),
                                 shuffle=shuffle, seed=seed, drop_last=loader.drop_last)
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=sampler,
                      num_workers=loader.num_workers, collate_fn=loader.collate_fn,
                      pin_memory=loader.pin_memory, drop_last=loader.drop_last)


def set_epoch(loader, epoch):
    """Tell a DistributedSampler which epoch starts (a new shuffle each epoch)."""
    sampler = getattr(loader, "sampler", None)
    if isinstance(sampler, DistributedSampler):
        sampler.set_epoch(epoch)


def wrap(module, device):
    """`module` in DistributedDataParallel when several ranks run, else as it is."""
    if not active():
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=device_ids)


def mean_metrics(row):
    """{name: float} averaged over the ranks (metrics of each rank's share of an
    epoch; equal shares, so the mean is the whole epoch's figure)."""
    if not active() or not row:
        return row
    names = sorted(row)
    means = mean_over_ranks(torch.tensor([float(row[k]) for k in names], dtype=torch.float64))
    return dict(zip(names, means.tolist()))


def mean_over_ranks(values):
    """The element-wise mean over the ranks of a 1-D tensor (one all-reduce).

    fit sends each epoch's batch losses through it: with equal batch sizes the
    mean of the ranks' batch means is the combined batch's mean, and a NaN on
    any rank makes the mean NaN on every rank, so all ranks stop together with
    the same message.
    """
    if not active():
        return values
    device = values.device
    backend_device = "cuda" if dist.get_backend() == "nccl" else "cpu"
    summed = values.to(backend_device).clone()
    dist.all_reduce(summed, op=dist.ReduceOp.SUM)
    return (summed / world_size()).to(device)


def torchrun(module, *args, nproc=2, timeout=120, env=None):
    """Run `python -m module args...` under torchrun with `nproc` processes on
    this machine (`--standalone`: a free port, no rendezvous server); returns
    the finished `subprocess.CompletedProcess` (stdout and stderr as text).

    A process group that outlives `timeout` seconds is killed as a whole.
    """
    import subprocess
    import sys

    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc_per_node={nproc}", "-m", module, *map(str, args)]
    child_env = {**os.environ, "OMP_NUM_THREADS": "1", **(env or {})}
    process = subprocess.Popen(command, env=child_env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal

        os.killpg(process.pid, signal.SIGKILL)  # torchrun and every rank it started
        stdout, stderr = process.communicate()
        raise TimeoutError(f"torchrun {module} ran past {timeout} s; stderr:\n{stderr[-2000:]}")
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
