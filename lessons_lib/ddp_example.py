"""A small data-parallel run, launched by the tests and by lesson 14:

    python -m torch.distributed.run --standalone --nproc_per_node=2 \\
        -m lessons_lib.ddp_example --out run.pt --batch 8

Every rank runs this same file; `harness.torch.fit` finds the process group in
the environment. `single_process(batch=16)` trains the same model in one
process on the combined batch: the same samples per update (the
DistributedSampler's epoch order, cut into batches of N·B), so the two runs
end with the same weights up to float32 round-off.
"""
from __future__ import annotations

import argparse
import os
import signal

import torch
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from lessons_lib import schedules
from lessons_lib.harness import Callback, DivergenceError, distributed
from lessons_lib.harness import torch as harness

SAMPLES, FEATURES, SHUFFLE_SEED = 256, 8, 7


def problem():
    """A fixed regression set: y = sin(x·w) + noise (the same on every rank)."""
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(SAMPLES, FEATURES, generator=generator)
    w = torch.randn(FEATURES, 1, generator=generator)
    y = torch.sin(x @ w) + 0.1 * torch.randn(SAMPLES, 1, generator=generator)
    return TensorDataset(x, y)


def model():
    torch.manual_seed(1)
    return torch.nn.Sequential(torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 32), torch.nn.Tanh(),
                               torch.nn.Linear(32, 1))


class KillAt(Callback):
    """SIGKILL this process when epoch `epoch` begins (the checkpoint of the
    epoch before it is written): a crash, not a clean stop."""

    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, state):
        if self.epoch and state.epoch == self.epoch:
            os.kill(os.getpid(), signal.SIGKILL)


def train(loader, *, epochs=4, lr=0.1, accumulate=1, checkpoint=None, kill_at=0):
    """fit() on `loader`: Adam with a warmup + cosine schedule, seeded. Returns
    (model, History)."""
    net = model()
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    updates = epochs * -(-len(loader) // accumulate)
    if distributed.launched():
        updates //= int(os.environ["WORLD_SIZE"])
    schedule = schedules.REGISTRY["warmup_cosine"](lr=lr, total_steps=updates)
    history = harness.fit(net, loader, loss=torch.nn.MSELoss(), optimizer=optimizer,
                          scheduler=schedule, epochs=epochs, progress=False, seed=0,
                          device="cpu", accumulate=accumulate, checkpoint=checkpoint,
                          callbacks=[KillAt(kill_at)])
    return net, history


def single_process(batch, **options):
    """One process, batch `batch`, the epoch order torchrun's ranks share."""
    data = problem()
    sampler = DistributedSampler(data, num_replicas=1, rank=0, shuffle=True, seed=SHUFFLE_SEED)
    return train(DataLoader(data, batch_size=batch, sampler=sampler), **options)


def time_allreduce(sizes=(10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6), repeats=5):
    """Median seconds of one all-reduce (sum) of n float32 values, per n."""
    import statistics
    import time

    import torch.distributed as dist
    rows = []
    for n in sizes:
        values, times = torch.ones(n), []
        for _ in range(repeats):
            dist.barrier()
            start = time.perf_counter()
            dist.all_reduce(values)
            times.append(time.perf_counter() - start)
        rows.append({"values": n, "bytes": 4 * n, "seconds": statistics.median(times)})
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="rank 0 saves weights and History here")
    parser.add_argument("--batch", type=int, default=8, help="batch size per rank")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--accumulate", type=int, default=1)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--kill-at", type=int, default=0, help="crash when this epoch begins")
    parser.add_argument("--time-allreduce", action="store_true",
                        help="also time all-reduces of 10³…10⁶ float32 values")
    args = parser.parse_args(argv)
    distributed.setup()
    loader = DataLoader(problem(), batch_size=args.batch, shuffle=True,
                        generator=torch.Generator().manual_seed(SHUFFLE_SEED))
    try:
        net, history = train(loader, epochs=args.epochs, lr=args.lr,
                             accumulate=args.accumulate, checkpoint=args.checkpoint,
                             kill_at=args.kill_at)
    except DivergenceError as error:  # every rank stops, each says why
        with open(f"{args.out}.rank{distributed.rank()}.txt", "w") as file:
            file.write(str(error))
        distributed.teardown()
        raise SystemExit(3)
    timings = time_allreduce() if args.time_allreduce else []
    if distributed.is_main():
        torch.save({"weights": net.state_dict(), "history": history.rows,
                    "world_size": distributed.world_size(), "allreduce": timings}, args.out)
    distributed.print0(f"{distributed.world_size()} ranks: final train loss "
                       f"{history.rows[-1]['train_loss']:.6f}")
    distributed.teardown()


if __name__ == "__main__":
    main()
