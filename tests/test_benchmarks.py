"""`python -m benchmarks --json` prints one object with the issue's figures.

Tiny sizes, few repeats: this checks the keys and that every figure is a
positive, finite number; it asserts nothing about speed."""
import contextlib
import io
import json
import math

import pytest

from benchmarks.__main__ import main
from lessons_lib import optim

pytest.importorskip("keras")


def _positive(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def test_json_has_every_figure_of_the_issue_with_sane_values(tmp_path):
    import nbformat
    import torch
    # bench_notebooks' code on a one-cell lesson: a real one under nbval costs
    # ~10 s and rewrites its copy in build/executed/ while make test reads it.
    lesson = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("6 * 7")])
    nbformat.write(lesson, tmp_path / "00_tiny.ipynb")
    out, threads = io.StringIO(), torch.get_num_threads()
    try:
        with contextlib.redirect_stdout(out):
            main(["--json", "--tiny", "--threads", "1", "--notebook-dir", str(tmp_path)])
    finally:
        torch.set_num_threads(threads)
    figures = json.loads(out.getvalue())
    for key in ("scratch_step_ratio", "keras_step_ratio"):
        assert set(figures[key]) == set(optim.REGISTRY)
        assert all(_positive(v) for v in figures[key].values()), figures[key]
    assert _positive(figures["torch_harness_overhead"])
    assert _positive(figures["keras_harness_overhead"])
    assert list(figures["notebook_seconds"]) == ["00_tiny.ipynb"]
    assert _positive(figures["notebook_seconds"]["00_tiny.ipynb"])
    assert figures["notebooks_failed"] == []
    machine = figures["machine"]
    assert machine["cores"] >= 1 and machine["torch_threads"] == 1
    assert machine["torch"] and machine["keras"] and machine["device"] in ("cpu", "cuda", "mps")
    for name in ("adam", "adamw"):  # the GPU rows' code, run on the CPU at toy sizes
        assert set(figures["gpu_step_ratio_vs_fused"][name]) == {"ours_auto", "torch_foreach"}
        assert all(_positive(v) for v in figures["gpu_step_ratio_vs_fused"][name].values())
    assert _positive(figures["gpu_harness_amp_throughput"])
    assert figures["gpu"]["harness_amp"]["dtype"] == "torch.bfloat16"
    assert _positive(figures["keras_harness"]["whole_run"]["ratio"])
    assert _positive(figures["torch_harness"]["whole_run_ratio"]["fit"]["ratio"])
    for control in (figures["keras_harness"]["control"], figures["torch_harness"]["control"]):
        assert _positive(control["ratio"]) and control["repeats"] == 2  # the A/A noise floor
    assert set(figures["cnn_layout_ratio"]) == {"digits", "cifar"}
    assert all(_positive(r) for r in figures["cnn_layout_ratio"].values())
    assert _positive(figures["cnn_layout"]["digits"]["control"]["ratio"])
    adam = figures["scratch_step"]["by_backend"]["foreach"]["adam"]
    assert adam["repeats"] >= 2 and 0 < adam["spread"][0] <= adam["spread"][1]


def test_rotating_turns_the_order_so_that_no_contender_always_runs_first():
    from benchmarks.timing import rotating
    calls = []
    runs = rotating({name: lambda name=name: calls.append(name) or name.upper()
                     for name in "abc"}, repeats=4)
    assert "".join(calls) == "abc" "bca" "cab" "abc"
    assert {name: [result for _, result in run] for name, run in runs.items()} == \
        {name: [name.upper()] * 4 for name in "abc"}
    assert all(seconds >= 0 for run in runs.values() for seconds, _ in run)


def test_unknown_benchmark_is_named():
    with pytest.raises(SystemExit, match="unknown benchmark.*bench_nothing"):
        main(["bench_nothing"])


def test_gpu_rows_say_why_they_are_skipped_without_cuda(monkeypatch):
    import torch

    from benchmarks import bench_gpu
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    figures = bench_gpu.run("full")
    assert "no CUDA device" in figures["gpu"]["skipped"]
    assert bench_gpu.describe(figures).startswith("GPU rows skipped: no CUDA device")


def test_a_folder_without_lessons_is_refused_by_name(tmp_path, capsys):
    from benchmarks import bench_notebooks
    with pytest.raises(SystemExit):
        main(["--notebook-dir", str(tmp_path)])
    assert f"--notebook-dir '{tmp_path}' holds no lesson" in capsys.readouterr().err
    with pytest.raises(ValueError, match=r"folder=.* holds no lesson \(NN_name.ipynb\)"):
        bench_notebooks.run("tiny", folder=tmp_path)
