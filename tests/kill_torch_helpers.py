"""SIGKILL a training process at random moments, to test that checkpoints survive it.

Importing torch takes seconds, so a `ForkServer` process imports it once and forks
a fresh training process per run (`os.fork` before any torch computation: the
child starts with no threads of torch's and no device state). `kill_at_random`
starts runs and SIGKILLs each after a seeded random delay. The run, `torch_run`,
trains with `checkpoint=PATH`, resuming from PATH when it exists.
"""
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


class ForkServer:
    """A process that has done the slow imports; `run(path, epochs)` forks a child
    that calls `torch_run(path, epochs)` and returns the child's pid at once."""

    def __init__(self):
        root = os.path.dirname(HERE)  # the child imports this checkout's lessons_lib
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
        self.process = subprocess.Popen([sys.executable, os.path.abspath(__file__)], env=env,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True)
        self._expect("ready")

    def _expect(self, word):
        line = self.process.stdout.readline().split()
        if not line or line[0] != word:
            self.process.kill()
            raise RuntimeError(f"fork server: expected {word!r}, got {line}")
        return line[1:]

    def run(self, path, epochs):
        self.process.stdin.write(f"{path}\t{epochs}\n")
        self.process.stdin.flush()
        return int(self._expect("started")[0])

    def wait(self):
        """The exit status of the last run (os.waitpid's), once it is gone."""
        return int(self._expect("exited")[0])

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)


def kill_at_random(server, path, epochs, *, kills, seed, delays=(0.05, 0.6)):
    """Start `kills` runs one after the other, SIGKILL each `uniform(*delays)` seconds
    after it starts (seeded); yields once each killed run is gone."""
    rng = random.Random(seed)
    for _ in range(kills):
        pid = server.run(path, epochs)
        time.sleep(rng.uniform(*delays))
        with contextlib.suppress(ProcessLookupError):  # it may have finished already
            os.kill(pid, signal.SIGKILL)
        server.wait()
        yield


def run_to_end(server, path, epochs):
    server.run(path, epochs)
    status = server.wait()
    if status != 0:
        raise RuntimeError(f"the run ended with wait status {status}")


def torch_run(path, epochs, callbacks=()):
    """Adam + cosine on a 2-batch data set, dropout, shuffled by its own generator:
    each kind of state a checkpoint must carry; saving dominates each epoch.
    Returns (model, History)."""
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset

    from lessons_lib.harness.torch import fit

    torch.set_num_threads(1)  # the same arithmetic in the test process and the child
    data = torch.Generator().manual_seed(0)
    x = torch.randn(64, 32, generator=data)
    y = x[:, :1] * 2 + 0.1 * torch.randn(64, 1, generator=data)
    train = DataLoader(TensorDataset(x, y), batch_size=32, shuffle=True,
                       generator=torch.Generator().manual_seed(1))
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(32, 256), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train))
    history = fit(model, train, loss=nn.MSELoss(), optimizer=optimizer, scheduler=scheduler,
                  epochs=epochs, val=train, callbacks=callbacks, seed=3, checkpoint=path,
                  progress=False)
    return model, history


def _serve():
    import torch._dynamo  # noqa: F401  (torch.optim imports it on first use: seconds)

    import lessons_lib.harness.torch  # noqa: F401

    print("ready", flush=True)
    for line in sys.stdin:
        path, epochs = line.rstrip("\n").split("\t")
        pid = os.fork()
        if pid == 0:  # the training process
            os.dup2(2, 1)  # its prints go to stderr: stdout speaks to the test
            try:
                torch_run(path, int(epochs))
                code = 0
            except BaseException:
                traceback.print_exc()
                code = 1
            os._exit(code)
        print("started", pid, flush=True)
        print("exited", os.waitpid(pid, 0)[1], flush=True)


if __name__ == "__main__":
    _serve()
