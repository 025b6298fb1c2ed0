"""Label-free prior adaptation (Saerens et al. 2002): EM recovers a known prior on synthetic rows, lands on the
maximum-likelihood prior, re-weights by Bayes' rule, and never reads a label -- in `mixer.prior`, in `train.py
evaluate / predict --adapt-prior em` and in bench/baselines.py."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from unsw_sample import REAL, needs_data, sample_folder

from mixer.checkpoint import load_checkpoint, save_checkpoint
from mixer.cli import main
from mixer.config import TrainConfig
from mixer.metrics import binary_metrics
from mixer.prior import class_prior, em_prior_shift, reweight
from mixer.training import Trainer

TRAIN_PRIOR, TEST_PRIOR = 0.56, 0.67  # UNSW-NB15's training and test attack rates


def gaussian_rows(n, prior, seed, shift=1.0):
    """Labels with P(1) = prior and x ~ N(+-shift, 1); the exact posterior P(1 | x) under the TRAINING prior (what a
    calibrated model trained on 56% attacks outputs), and under `prior`."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(n) < prior).astype(np.int64)
    x = rng.normal(np.where(labels == 1, shift, -shift), 1.0)
    f1, f0 = stats.norm.pdf(x, shift), stats.norm.pdf(x, -shift)
    trained = TRAIN_PRIOR * f1 / (TRAIN_PRIOR * f1 + (1 - TRAIN_PRIOR) * f0)
    true = prior * f1 / (prior * f1 + (1 - prior) * f0)
    return labels, trained, true


def likelihood_terms(probabilities, prior):
    """Per row, d/dr log(r a + (1 - r) b) with a = p / q, b = (1 - p) / (1 - q) (the class likelihoods up to one
    factor per row): its sum is the score of the test rows' prior r, its square sum the observed information."""
    a, b = probabilities / TRAIN_PRIOR, (1 - probabilities) / (1 - TRAIN_PRIOR)
    return (a - b) / (prior * a + (1 - prior) * b)


def test_em_recovers_the_attack_rate_of_rows_with_another_prior():
    """On 20,000 rows drawn with 67% attacks, EM's estimate from the probabilities alone lies within 4 standard
    errors of 0.67: EM's fixed point is the maximum-likelihood prior, whose standard error is 1 / sqrt(observed
    information) (here about 0.005); 4 SE is exceeded by chance with probability 6e-5."""
    labels, trained, true = gaussian_rows(20_000, TEST_PRIOR, seed=0)
    shift = em_prior_shift(trained, TRAIN_PRIOR)
    estimate = shift.prior[1]
    standard_error = 1 / np.sqrt(np.sum(likelihood_terms(trained, estimate) ** 2))
    assert standard_error < 0.01
    assert abs(estimate - TEST_PRIOR) < 4 * standard_error
    assert abs(estimate - TRAIN_PRIOR) > 10 * standard_error  # it moved away from the training prior
    # the re-weighted probabilities are the posterior under the estimated prior (and near the one under the truth)
    np.testing.assert_allclose(shift.probabilities, reweight(trained, [1 - TRAIN_PRIOR, TRAIN_PRIOR],
                                                             shift.prior), rtol=1e-12)
    assert np.abs(shift.probabilities - true).max() < 0.02
    assert shift.prior.sum() == pytest.approx(1.0) and shift.iterations > 1
    # calibration improves and accuracy at 0.5 does not drop, on rows it saw no label of
    before, after = binary_metrics(labels, trained), binary_metrics(labels, shift.probabilities)
    assert after["accuracy"] >= before["accuracy"] and after["roc_auc"] == pytest.approx(before["roc_auc"])


def test_em_stops_at_the_maximum_likelihood_prior():
    """At EM's fixed point the score of the likelihood of the test rows' prior is zero (to the tolerance)."""
    _, trained, _ = gaussian_rows(5_000, 0.3, seed=1)
    estimate = em_prior_shift(trained, TRAIN_PRIOR, tolerance=1e-13).prior[1]
    terms = likelihood_terms(trained, estimate)
    assert abs(terms.sum()) < 1e-6 * np.sqrt(np.sum(terms**2)) * len(terms)
    worse = [np.sum(np.log(r * trained / TRAIN_PRIOR + (1 - r) * (1 - trained) / (1 - TRAIN_PRIOR)))
             for r in (estimate - 0.01, estimate, estimate + 0.01)]
    assert worse[1] > worse[0] and worse[1] > worse[2]


def test_rows_with_the_training_prior_are_left_as_they_are():
    """Bayes' rule with r = q is the identity; EM on rows drawn with the training prior stays near it."""
    probabilities = np.random.default_rng(2).random(50)
    np.testing.assert_allclose(reweight(probabilities, [0.44, 0.56], [0.44, 0.56]), probabilities, rtol=1e-14)
    _, trained, _ = gaussian_rows(20_000, TRAIN_PRIOR, seed=3)
    assert em_prior_shift(trained, TRAIN_PRIOR).prior[1] == pytest.approx(TRAIN_PRIOR, abs=0.02)


def test_multiclass_em_recovers_each_class_prior():
    """Three classes N(-2), N(0), N(2): priors (0.5, 0.3, 0.2) at training, (0.2, 0.3, 0.5) on the scored rows."""
    rng = np.random.default_rng(4)
    train, test, means = np.array([0.5, 0.3, 0.2]), np.array([0.2, 0.3, 0.5]), np.array([-2.0, 0.0, 2.0])
    labels = rng.choice(3, size=30_000, p=test)
    x = rng.normal(means[labels], 1.0)
    likelihood = stats.norm.pdf(x[:, None], means[None, :])
    posterior = train * likelihood / (train * likelihood).sum(axis=1, keepdims=True)
    shift = em_prior_shift(posterior, train)
    assert shift.probabilities.shape == (30_000, 3)
    np.testing.assert_allclose(shift.prior, test, atol=0.02)  # each about 0.005 from the truth (SE)
    np.testing.assert_allclose(class_prior(labels, 3), test, atol=0.01)


def test_no_label_is_an_input_and_bad_priors_are_refused():
    probabilities = np.random.default_rng(5).random(100)
    first = em_prior_shift(probabilities, 0.56)
    again = em_prior_shift(probabilities.copy(), np.array([0.44, 0.56]))  # the same prior, as two classes
    np.testing.assert_allclose(first.probabilities, again.probabilities, rtol=1e-12)
    with pytest.raises(ValueError, match="one positive frequency per class"):
        em_prior_shift(probabilities, [0.5, 0.3, 0.2])
    with pytest.raises(ValueError, match="no rows"):
        em_prior_shift(np.zeros(0), 0.5)


# -- train.py evaluate / predict and bench/baselines.py ------------------------------------------------------------
@pytest.fixture(scope="module")
def run_folder(tmp_path_factory):
    """A one-epoch run on a small sample of the data, and a copy of its test file with every label flipped."""
    if REAL is None:
        pytest.skip("UNSW-NB15 coursework CSVs not found")
    root = tmp_path_factory.mktemp("prior")
    (root / "unsw").mkdir()
    data = sample_folder(root / "unsw", train=(400, 45), test=(150, 25), unlabelled_rows=5)
    config = TrainConfig.from_dict({"dim": 8, "depth": 1, "epochs": 1, "batch_size": 64, "warmup_epochs": 0.5,
                                    "holdout": 0.2, "data_dir": str(data), "out": str(root / "run"), "seed": 1})
    Trainer(config, log=lambda text: None).fit()
    test = data / REAL["test"].name
    lines = test.read_text().splitlines()
    column = lines[0].split(",").index("label")
    flipped = [lines[0]] + [",".join(cells[:column] + [str(1 - int(cells[column]))] + cells[column + 1:])
                            for cells in (line.split(",") for line in lines[1:])]
    (root / "flipped.csv").write_text("\n".join(flipped) + "\n")
    return root, data, test


@needs_data
def test_predict_and_evaluate_adapt_without_reading_a_label(run_folder, capsys):
    root, _, test = run_folder
    best = str(root / "run" / "best.npz")
    outputs = []
    for csv in (test, root / "flipped.csv"):
        output = root / f"predicted-{len(outputs)}.csv"
        assert main(["predict", "--checkpoint", best, "--csv", str(csv), "--output", str(output),
                     "--adapt-prior", "em"]) == 0
        outputs.append(output.read_text())
    assert outputs[0] == outputs[1]  # flipped labels: the same adapted probabilities and predicted labels
    assert main(["predict", "--checkpoint", best, "--csv", str(test), "--output", str(root / "plain.csv")]) == 0
    assert (root / "plain.csv").read_text() != outputs[0]  # adaptation changed the probabilities
    printed = capsys.readouterr().out
    estimated = [line for line in printed.splitlines() if line.startswith("prior adaptation (EM")]
    assert len(estimated) == 2 and estimated[0] == estimated[1] and "attack" in estimated[0]
    assert main(["evaluate", "--checkpoint", best, "--csv", str(test), "--adapt-prior", "em"]) == 0
    table = capsys.readouterr().out
    assert "labelled rows (EM)" in table and "prior-adapted" in table
    checkpoint = load_checkpoint(best)
    assert len(checkpoint["class_prior"]) == 2 and sum(checkpoint["class_prior"]) == pytest.approx(1.0)
    del checkpoint["class_prior"]  # a checkpoint written before prior adaptation existed
    save_checkpoint(root / "older.npz", checkpoint)
    assert main(["evaluate", "--checkpoint", str(root / "older.npz"), "--csv", str(test), "--adapt-prior", "em"]) == 1
    assert "predates it" in capsys.readouterr().err
    assert main(["evaluate", "--checkpoint", str(root / "older.npz"), "--csv", str(test)]) == 0  # still evaluates


@needs_data
def test_baselines_adapt_the_trees_and_the_runs_alike(run_folder, tmp_path, capsys):
    pytest.importorskip("sklearn")
    root, data, _ = run_folder
    spec = importlib.util.spec_from_file_location("baselines", Path(__file__).resolve().parents[2] / "bench" /
                                                  "baselines.py")
    baselines = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(baselines)
    out = tmp_path / "rows.json"
    assert baselines.main(["--data-dir", str(data), "--seeds", "1", "--models", "logistic-regression", "--jobs", "1",
                           "--runs", str(root / "run"), "--adapt-prior", "em", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["kind"] for row in rows] == ["baseline", "run"]
    for row in rows:
        record = row["per_seed"][0]
        assert 0 < record["em_attack_rate"] < 1 and 0 <= record["test_ece_em"] <= 1
    assert "EM attack rate" in capsys.readouterr().out
