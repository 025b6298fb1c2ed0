"""bench/tune.py: the plan (the default first, draws inside the search space, the run budget), successive halving on
a tiny budget (promotion by the mean holdout ROC-AUC, the table, a resumed search that repeats nothing)."""

import importlib.util
import json
import math
import os
from pathlib import Path

import pytest
from unsw_sample import needs_data, sample_folder

TUNE = Path(__file__).resolve().parents[2] / "bench" / "tune.py"


@pytest.fixture(scope="module")
def tune():
    before = os.environ.get("OPENBLAS_THREAD_TIMEOUT")
    spec = importlib.util.spec_from_file_location("tune", TUNE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if before is None:  # the script sets it for its own process; keep this one's environment as it was
        os.environ.pop("OPENBLAS_THREAD_TIMEOUT", None)
    return module


def test_the_plan_starts_from_the_default_and_draws_inside_the_space(tune):
    args = tune.parse(["--out", "unused", "--trials", "30", "--max-runs", "1000"])
    plan = tune.make_plan(args)
    configurations = plan["configurations"]
    assert configurations[0] == {"lr": 0.002, "weight_decay": 0.05, "drop_path": 0.1, "dim": 64, "depth": 4,
                                 "patch_size": 3, "batch_size": 128, "periodic_sigma": 0.01}  # train.py's defaults
    for values in configurations[1:]:
        assert "epochs" not in values  # halving: the rungs set the epochs
        for name, value in values.items():
            kind, arguments = tune.SPACE[name]
            if kind == "choice":
                assert value in arguments
            else:
                assert arguments[0] * 0.999 <= value <= arguments[1] * 1.001, (name, value)
    assert len({json.dumps(v, sort_keys=True) for v in configurations}) == 30
    assert tune.make_plan(args) == plan  # the same --search-seed draws the same plan
    assert tune.runs_planned(plan) == 3 * (30 + 10 + 4)  # 30, then ceil(30 / 3), then ceil(10 / 3), three seeds
    assert tune.runs_planned(tune.make_plan(tune.parse(["--out", "x"]))) == 39  # the default search
    random = tune.make_plan(tune.parse(["--out", "x", "--method", "random", "--trials", "4",
                                                      "--seeds", "0", "--fixed", "dim=16"]))
    assert [v["dim"] for v in random["configurations"]] == [16] * 4 and all("epochs" in v for v in
                                                                            random["configurations"])
    assert tune.runs_planned(random) == 4
    assert tune.runs_planned(tune.make_plan(tune.parse(["--out", "x", "--cv", "3", "--trials", "3", "--rung-epochs",
                                                         "5", "20"]))) == 3 * (3 + 1)  # seed 0: 3 folds each


def test_a_plan_over_budget_or_against_an_earlier_search_is_refused(tune, tmp_path, capsys):
    assert tune.main(["--out", str(tmp_path / "t"), "--trials", "20"]) == 1
    assert "more than --max-runs 40" in capsys.readouterr().err
    assert tune.main(["--out", str(tmp_path / "t"), "--fixed", "epochs=3"]) == 1
    assert "not --fixed epochs" in capsys.readouterr().err
    plan = tune.make_plan(tune.parse(["--out", str(tmp_path / "t")]))
    tune.load_plan(tmp_path / "t", plan)
    other = tune.make_plan(tune.parse(["--out", str(tmp_path / "t"), "--search-seed", "1"]))
    with pytest.raises(tune.TuneError, match="other settings"):
        tune.load_plan(tmp_path / "t", other)


@needs_data
def test_successive_halving_on_a_tiny_budget_resumes_without_repeating(tune, tmp_path_factory, capsys):
    data = sample_folder(tmp_path_factory.mktemp("unsw"), train=(300, 60), test=(60, 60), unlabelled_rows=5)
    out = tmp_path_factory.mktemp("tune") / "search"
    argv = ["--out", str(out), "--trials", "2", "--eta", "2", "--rung-epochs", "1", "2", "--seeds", "0",
            "--data-dir", str(data), "--fixed", "dim=8", "depth=1", "batch_size=64", "warmup_epochs=0.5"]
    assert tune.main(argv) == 0
    printed = capsys.readouterr()
    assert len([line for line in printed.err.splitlines() if line.startswith("trial ")]) == 3  # 2 at rung 0, 1 next
    rows = printed.out.splitlines()
    assert rows[0].split()[:3] == ["trial", "epochs", "seeds"]
    first = rows[1].split()
    assert first[1] == "2" and first[2] == "1/1"  # the finalist's rung comes first
    scores = {trial: json.loads((out / f"trial-{trial:02d}" / "epochs-1" / "seed-0" / "result.json").read_text())
              ["holdout"]["roc_auc"] for trial in (0, 1)}
    promoted = max(scores, key=lambda trial: (scores[trial], -trial))
    assert int(first[0]) == promoted
    assert (out / f"trial-{promoted:02d}" / "epochs-2" / "seed-0" / "result.json").is_file()
    assert not (out / f"trial-{1 - promoted:02d}" / "epochs-2").exists()
    # again: nothing runs (every result is read); a run whose result.json is gone finishes from its last.npz
    (out / f"trial-{promoted:02d}" / "epochs-2" / "seed-0" / "result.json").unlink()
    assert tune.main(argv + ["--markdown"]) == 0
    again = capsys.readouterr()
    def trained(err):  # the runs a call trained, with their holdout ROC-AUC (their seconds aside)
        return [line.rsplit(" (", 1)[0] for line in err.splitlines() if line.startswith("trial ")]
    assert trained(again.err) == [line for line in trained(printed.err) if line.startswith(f"trial {promoted}, 2 ")]
    assert again.out.splitlines()[0].startswith("| trial | epochs |")
    assert tune.main(argv + ["--table"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[1:] == rows[1:] and not math.isnan(scores[0])


@needs_data
def test_a_configuration_scored_by_cross_validation(tune, tmp_path_factory, capsys):
    data = sample_folder(tmp_path_factory.mktemp("unsw"), train=(200, 90), test=(40, 90), unlabelled_rows=5)
    out = tmp_path_factory.mktemp("tune") / "cv"
    assert tune.main(["--out", str(out), "--trials", "1", "--rung-epochs", "1", "--cv", "2", "--data-dir", str(data),
                      "--fixed", "dim=8", "depth=1", "batch_size=64", "warmup_epochs=0.5"]) == 0
    summary = json.loads((out / "trial-00" / "epochs-1" / "seed-0" / "cv.json").read_text())
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:3] == ["0", "1", "1/1"] and float(row[3]) == pytest.approx(summary["holdout"]["mean"]["roc_auc"],
                                                                           abs=5e-5)
