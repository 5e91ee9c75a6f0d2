"""Performance measurements of lessons_lib: `python -m benchmarks [--json]`.

Each `bench_*.py` module here has `run() -> dict` (the figures) and
`describe(figures) -> str` (the human-readable lines). They print ratios and
rates, never pass/fail: timings depend on the machine.
"""
