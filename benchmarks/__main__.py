"""`python -m benchmarks` prints every benchmark with its goal; `--json` prints
one JSON object: scratch_step_ratio, keras_step_ratio, torch_harness_overhead,
keras_harness_overhead, notebook_seconds, machine (and the details behind them)."""
import argparse
import importlib
import importlib.metadata
import json
import os
import pkgutil
import platform
import sys

import benchmarks
from lessons_lib import publish


def modules(only=None):
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name.startswith("bench_"))
    if only:
        unknown = set(only) - set(names)
        if unknown:
            sys.exit(f"unknown benchmark(s) {sorted(unknown)}; there are {names}")
        names = [n for n in names if n in only]
    return [importlib.import_module(f"benchmarks.{name}") for name in names]


def machine():
    import torch
    from lessons_lib.devices import pick_device

    def version(*packages):
        for package in packages:
            try:
                return importlib.metadata.version(package)
            except importlib.metadata.PackageNotFoundError:
                pass
        return None

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "torch_threads": torch.get_num_threads(),
            "device": str(pick_device("auto")), "python": platform.python_version(),
            "torch": torch.__version__,
            "tensorflow": version("tensorflow", "tensorflow-cpu", "tensorflow_cpu"),
            "keras": version("keras"),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--skip-notebooks", action="store_true",
                        help="leave out bench_notebooks (minutes)")
    parser.add_argument("--notebook-dir", metavar="DIR",
                        help="bench_notebooks times the lessons in DIR (default: notebooks; "
                             "build/student after `make student`: the student edition)")
    parser.add_argument("--tiny", action="store_true",
                        help="tiny sizes and few repeats: checks that it runs, measures nothing")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's); 1 is steadier on a "
                             "machine shared with other jobs")
    parser.add_argument("--save", metavar="FILE", help="also write the JSON object to FILE")
    parser.add_argument("names", nargs="*",
                        help="benchmarks to run (default: all), e.g. bench_harness")
    args = parser.parse_args(argv)
    if args.notebook_dir and not publish.lessons(args.notebook_dir):
        parser.error(f"--notebook-dir {args.notebook_dir!r} holds no lesson (NN_name.ipynb)")
    if args.threads:
        import torch
        torch.set_num_threads(args.threads)
    chosen = [m for m in modules(args.names)
              if not (args.skip_notebooks and m.__name__.endswith("bench_notebooks"))]
    results = {"machine": machine()}
    for module in chosen:
        size = "tiny" if args.tiny else "full"
        if module.__name__.endswith("bench_notebooks") and args.notebook_dir:
            figures = module.run(size, folder=args.notebook_dir)
        else:
            figures = module.run(size)
        results.update(figures)
        if not args.json:
            print(f"== {module.__name__.rpartition('.')[2]}\n{module.describe(figures)}\n",
                  flush=True)
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if args.save:
        with open(args.save, "w") as f:
            json.dump(results, f, indent=2)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        m = results["machine"]
        print(f"machine: {m['cores']} cores ({m['cpu']}), torch {m['torch']} with "
              f"{m['torch_threads']} threads, TF {m['tensorflow']}, Keras {m['keras']}, device "
              f"{m['device']}; load average {m['load_average_at_start']} at start, "
              f"{m['load_average_at_end']} at the end")


if __name__ == "__main__":
    main()
