"""`python -m tutorial_lib.bench`: the command line that runs the benchmark scripts (smoke runs, quick mode)."""
import json
import os
import subprocess
import sys

import pytest

from tutorial_lib import bench


def run_bench(*args, timeout=300):
    return subprocess.run([sys.executable, "-m", "tutorial_lib.bench", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "CI": "true"})


def test_every_benchmark_script_exists():
    for name in bench.BENCHMARKS:
        assert bench.script_path(name).is_file()


def test_write_json_is_atomic_and_creates_the_folder(tmp_path, monkeypatch):
    target = tmp_path / "new" / "result.json"
    assert bench.write_json(target, {"a": [1, 2.5]}) == target
    assert json.loads(target.read_text()) == {"a": [1, 2.5]} and os.listdir(target.parent) == ["result.json"]

    def crash(src, dst):  # the rename never happens: the old file must survive intact
        raise OSError("disk full")

    monkeypatch.setattr(bench.os, "replace", crash)
    with pytest.raises(OSError):
        bench.write_json(target, {"a": "half"})
    assert json.loads(target.read_text()) == {"a": [1, 2.5]}


def test_unknown_benchmark_is_a_clear_error():
    with pytest.raises(ValueError, match="use one of"):
        bench.script_path("fid")
    result = run_bench("fid")
    assert result.returncode == 2 and "Unknown benchmark 'fid'" in result.stderr


def test_no_argument_prints_the_usage_and_fails():
    result = run_bench()
    assert result.returncode == 2 and "python -m tutorial_lib.bench gan2d" in result.stdout


def test_options_reach_the_script():
    result = run_bench("gan2d", "--help")
    assert result.returncode == 0 and "--workers" in result.stdout


def test_gan2d_quick_run_writes_its_table(tmp_path):
    out = tmp_path / "gan2d.json"
    result = run_bench("gan2d", "--quick", "--methods", "baseline", "--datasets", "ring", "--workers", "1",
                       "--steps", "100", "--lr-schedule", "cosine", "--batch-size", "64", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["complete"] and report["seeds"] == [0] and report["budget"] is None  # --quick: fixed steps
    for recipe in ("common", "published"):
        row = report["tables"][recipe]["rows"]["baseline"]
        assert row["steps"] == 300 and row["config"]["lr_schedule"] == "cosine" and row["config"]["batch_size"] == 64
        assert set(report["tables"][recipe]["meets_targets"]) == {"baseline / ring"}
    assert report["tables"]["published"]["rows"]["baseline"]["same_runs_as"] == "common"
    (run,) = report["runs"]  # the published baseline reuses the common run
    assert (run["recipe"], run["method"], run["dataset"], run["seed"]) == ("common", "baseline", "ring", 0)
    assert 0 <= run["ema"]["modes"] <= 8 and sum(run["raw"]["counts"]) <= 2500


def test_gan2d_turns_a_time_budget_into_steps_per_row(tmp_path):
    out = tmp_path / "gan2d.json"
    result = run_bench("gan2d", "--recipes", "published", "--methods", "pacgan", "wgan-clip", "--datasets", "ring",
                       "--seeds", "0", "--workers", "1", "--budget-seconds", "0.5", "--timing-steps", "5",
                       "--timing-repeats", "1", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    rows = report["tables"]["published"]["rows"]
    for row in rows.values():
        assert row["seconds_per_step"] > 0 and row["steps"] == max(10, int(0.5 / row["seconds_per_step"]) // 10 * 10)
    assert rows["wgan-clip"]["config"]["optimizer"] == "rmsprop" and report["budget"]["seconds_per_run"] == 0.5
    assert {r["steps"] for r in report["runs"]} == {row["steps"] for row in rows.values()}


def test_compare_quick_run_writes_its_table_and_figure(tmp_path, mnist_available):
    out = tmp_path / "compare.json"
    result = run_bench("compare", "--quick", "--out", str(out))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["protocol"]["n"] == 300 and (tmp_path / "compare.png").stat().st_size > 10_000
    rows, binary = report["rows"], report["binary_rows"]
    models = {"vae", "dcgan", "mlp_vae", "beta_vae", "vae_gan", "vae (no EMA)", "dcgan (no EMA)"}  # EMA ones twice
    assert set(rows) == {"real train (floor)"} | models
    assert set(binary) == {"real train, coin-flipped (floor)"} | models
    assert all(binary[name]["FID"] > binary["real train, coin-flipped (floor)"]["FID"] for name in ("vae", "dcgan"))
    conditional = report["conditional"]
    assert set(conditional["label_accuracy"]) == {"cvae", "cgan"} and conditional["protocol"]["n"] == 300
    assert all(0.1 < value <= 1 for value in conditional["label_accuracy"].values())  # better than chance
    assert set(conditional["per_class_fid"]["cgan"]) == {str(d) for d in range(10)}
    for name, row in conditional["rows"].items():  # the main table's measures, the same classifier verdicts
        assert 1 <= row["IS"] <= 10 and 0 <= row["confident"] <= 1
        assert sum(row["class_shares"]) == pytest.approx(1, abs=1e-3)
        # each digit was requested N/10 times, so the classifier's label histogram is near uniform for a model that
        # obeys as well as its label accuracy says
        assert max(row["class_shares"]) <= 0.1 + (1 - conditional["label_accuracy"][name]) + 1e-9, name
    for name in ("vae", "beta_vae"):
        assert rows[name]["nll"] <= rows[name]["neg_elbo"] + 1.0  # the IWAE bound is tighter than the ELBO
    assert all(rows[name]["FID"] > rows["real train (floor)"]["FID"] for name in ("vae", "dcgan"))
