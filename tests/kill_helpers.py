"""Crash tests for checkpoints: SIGKILL a training process while it writes one.

A `Zygote` is one Python process that imports the heavy modules once (keras,
torch, ...) and then forks a fresh child for each run: a child starts in about a
second instead of the 5-10 s that importing TensorFlow takes on a small CPU. The
forking happens in that process, which has run no framework op (so no framework
thread pool exists yet to break in the fork), never in pytest's own. So the
`preload` modules must only import: one that creates a tensor or a variable at
import time starts TensorFlow's runtime there, and the children then hang in
their first op.

    with Zygote(preload=["keras", "lessons_lib.harness.keras"]) as zygote:
        child = zygote.start("test_harness_keras:train_for_kill_test", folder=str(path))
        killed = kill_while_writing(child, path, prefix=f"checkpoint.npz.tmp-{child.pid}-",
                                    delay=0.01, skip=1)

`start` calls module.function(**kwargs) in a forked child (kwargs go as JSON;
the child's stdout is sent to stderr, so pytest shows its prints and tracebacks).
`kill_while_writing` waits until a file whose name starts with `prefix` appears
in `folder` (a save in progress), lets `skip` such files go by, sleeps `delay`
seconds and SIGKILLs the child. It returns True when it killed the child and
False when the child exited first. POSIX only (fork, SIGKILL).
"""
from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

_ZYGOTE = r"""
import faulthandler, importlib, json, os, sys, traceback
for name in json.loads(sys.argv[1]):
    importlib.import_module(name)
print("ready", flush=True)
for line in sys.stdin:
    call = json.loads(line)
    pid = os.fork()
    if pid == 0:
        os.dup2(2, 1)  # the child's prints must not mix into this protocol
        faulthandler.dump_traceback_later(60)  # a child that hangs says where
        try:
            module, function = call["target"].split(":")
            getattr(importlib.import_module(module), function)(**call["kwargs"])
        except BaseException:
            traceback.print_exc()
            sys.stderr.flush()
            os._exit(1)
        sys.stdout.flush()
        os._exit(0)
    print("started", pid, flush=True)
    _, status = os.waitpid(pid, 0)
    print("exited", pid, os.waitstatus_to_exitcode(status), flush=True)
"""


class Child:
    """A forked run: `pid`, `poll()` (None while it runs, else its exit code,
    negative for a signal: -9 after SIGKILL) and `wait(timeout)`."""

    def __init__(self, pid, events):
        self.pid, self._events, self.returncode = pid, events, None

    def poll(self):
        if self.returncode is None:
            try:
                self._take(self._events.get_nowait())
            except queue.Empty:
                pass
        return self.returncode

    def wait(self, timeout=120):
        if self.returncode is None:
            try:
                self._take(self._events.get(timeout=timeout))
            except queue.Empty:
                raise TimeoutError(f"child {self.pid} still runs after {timeout} s") from None
        return self.returncode

    def _take(self, event):
        kind, pid, code = event
        assert kind == "exited" and pid == self.pid, event
        self.returncode = code


class Zygote:
    """A process that imports `preload` (in the background: the first `start`
    waits for it) and then forks children on request."""

    def __init__(self, preload, path=(), timeout=180):
        env = dict(os.environ)
        here = os.path.dirname(os.path.abspath(__file__))
        env["PYTHONPATH"] = os.pathsep.join(
            [*path, here, os.path.dirname(here), env.get("PYTHONPATH", "")])
        self.process = subprocess.Popen([sys.executable, "-c", _ZYGOTE, json.dumps(preload)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        text=True, env=env)
        self.events = queue.Queue()
        self.timeout, self.ready = timeout, False  # start() waits: import while you work
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            kind, *numbers = line.split()
            self.events.put((kind, *map(int, numbers)))
        self.events.put(("closed",))

    def start(self, target, **kwargs) -> Child:
        """Fork a child that runs `target` ("module:function") with `kwargs`."""
        if not self.ready:
            event = self.events.get(timeout=self.timeout)
            if event != ("ready",):
                raise RuntimeError(f"the zygote did not start: {event}")
            self.ready = True
        self.process.stdin.write(json.dumps({"target": target, "kwargs": kwargs}) + "\n")
        self.process.stdin.flush()
        kind, pid = self.events.get(timeout=30)
        assert kind == "started", kind
        return Child(pid, self.events)

    def close(self):
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def kill_while_writing(child, folder, *, prefix, delay, skip=0, timeout=90, poll=0.0005):
    """SIGKILL `child` `delay` s after the (`skip`+1)-th file named `prefix`...
    appears in `folder`; True if killed, False if the child exited first."""
    seen = set()
    deadline = time.monotonic() + timeout
    while child.poll() is None:
        if time.monotonic() > deadline:
            os.kill(child.pid, signal.SIGKILL)
            child.wait()
            raise TimeoutError(f"no file {prefix}* appeared in {folder} within {timeout} s")
        try:
            names = os.listdir(folder)
        except FileNotFoundError:
            names = []
        seen.update(name for name in names if name.startswith(prefix))
        if len(seen) > skip:
            time.sleep(delay)
            try:
                os.kill(child.pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended (and was reaped) during the delay
                pass
            return child.wait() == -signal.SIGKILL
        time.sleep(poll)
    return False
