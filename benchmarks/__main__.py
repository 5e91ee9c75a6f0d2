"""`python -m benchmarks` prints every benchmark; `--json` prints the figures as JSON."""
import argparse
import importlib
import json
import pkgutil
import sys

import benchmarks


def modules(only=None):
    names = sorted(m.name for m in pkgutil.iter_modules(benchmarks.__path__)
                   if m.name.startswith("bench_"))
    if only:
        unknown = set(only) - set(names)
        if unknown:
            sys.exit(f"unknown benchmark(s) {sorted(unknown)}; there are {names}")
        names = [n for n in names if n in only]
    return [importlib.import_module(f"benchmarks.{name}") for name in names]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("names", nargs="*",
                        help="benchmarks to run (default: all), e.g. bench_harness")
    args = parser.parse_args(argv)
    results = {}
    for module in modules(args.names):
        name = module.__name__.rpartition(".")[2]
        results[name] = module.run()
        if not args.json:
            print(f"== {name}\n{module.describe(results[name])}\n", flush=True)
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
