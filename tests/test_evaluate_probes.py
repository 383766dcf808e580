"""Class probes and Galaxy Zoo soft-label probes on planted signals; their errors; the GZ trees; the probe CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings
from galssl.evaluate.probes import (
    ProbeSettings,
    SoftLabelProbe,
    fit_soft_probe,
    run_class_probes,
    run_vote_fraction_probes,
)
from galssl.gztree import DecisionTree, fraction_column, total_column
from galssl.metric_table import METRIC_COLUMNS

torch.set_num_threads(1)


def planted_clusters(n_per_class: int = 60, n_classes: int = 3, dim: int = 8, seed: int = 0,
                     n_stars: int = 10) -> LabelledEmbeddings:
    """Well-separated Gaussian clusters, one per class, plus a few 'stars' (class -1) sitting between them."""
    rng = np.random.default_rng(seed)
    centres = 6.0 * rng.standard_normal((n_classes, dim))
    labels = np.repeat(np.arange(n_classes), n_per_class)
    vectors = centres[labels] + rng.standard_normal((len(labels), dim))
    vectors = np.concatenate([vectors, rng.standard_normal((n_stars, dim))])
    labels = np.concatenate([labels, -np.ones(n_stars, dtype=int)])
    split = rng.choice(["train", "val", "test"], size=len(labels), p=[0.6, 0.2, 0.2])
    ids = np.array([f"obj{i:04d}" for i in range(len(labels))])
    return LabelledEmbeddings("toy", ids, vectors.astype(np.float32), split,
                              pd.DataFrame({"galaxy10_class": labels}))


def planted_votes(n: int = 600, dim: int = 6, seed: int = 1) -> tuple[LabelledEmbeddings, np.ndarray]:
    """Vote fractions of gz2's smooth_or_featured that are a softmax of a linear function of the embedding."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, dim))
    weights = rng.standard_normal((dim, 3))
    logits = x @ weights
    probability = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    totals = rng.integers(1, 60, n)
    counts = np.stack([rng.multinomial(t, p) for t, p in zip(totals, probability)])
    question = "smooth_or_featured"
    answers = DecisionTree.load("gz2").question(question).answers
    table = {total_column(question): totals}
    for k, answer in enumerate(answers):
        table[fraction_column(question, answer)] = counts[:, k] / totals
    split = rng.choice(["train", "val", "test"], size=n, p=[0.6, 0.2, 0.2])
    ids = np.array([f"gal{i:04d}" for i in range(n)])
    return LabelledEmbeddings("toy", ids, x.astype(np.float32), split, pd.DataFrame(table)), probability


def test_logistic_and_knn_separate_planted_clusters():
    data = planted_clusters()
    settings = ProbeSettings(classifiers=("logistic", "knn"), knn_k=(3, 5))
    table, predictions = run_class_probes(data, settings, seed=0, log=lambda *_: None)
    assert list(table.columns) == METRIC_COLUMNS
    test = table[(table["split"] == "test") & (table["metric"] == "accuracy")].set_index("task")["value"]
    assert test["classes_logistic"] >= 0.97 and test["classes_knn"] >= 0.97
    # Non-galaxies (class -1) are in no split; every labelled test galaxy is scored by every probe.
    labelled_test = (data.split == "test") & (data.labels["galaxy10_class"].to_numpy() >= 0)
    assert (predictions["true_class"] >= 0).all()
    assert predictions.groupby("probe").size().to_dict() == {"logistic": labelled_test.sum(),
                                                            "knn": labelled_test.sum()}
    n_train = int(((data.split == "train") & (data.labels["galaxy10_class"].to_numpy() >= 0)).sum())
    assert set(table["n_labels"]) == {n_train}


def test_probes_do_not_separate_pure_noise():
    data = planted_clusters()
    noise = np.random.default_rng(5).standard_normal(data.vectors.shape).astype(np.float32)
    shuffled = LabelledEmbeddings("noise", data.object_ids, noise, data.split, data.labels)
    table, _ = run_class_probes(shuffled, ProbeSettings(classifiers=("logistic",)), seed=0, log=lambda *_: None)
    accuracy = table.query("split == 'test' and metric == 'accuracy'")["value"].item()
    assert accuracy < 0.6  # 3 balanced classes: chance is 1/3


def test_mlp_probe_runs_and_is_deterministic():
    data = planted_clusters(n_per_class=30)
    settings = ProbeSettings(classifiers=("mlp",), mlp_hidden_units=16, mlp_alpha=(0.01,), mlp_max_iter=50)
    first, _ = run_class_probes(data, settings, seed=3, log=lambda *_: None)
    second, _ = run_class_probes(data, settings, seed=3, log=lambda *_: None)
    pd.testing.assert_frame_equal(first, second)
    assert first.query("split == 'test' and metric == 'accuracy'")["value"].item() > 0.9


def imbalanced(shift: float, n: int = 1000, dim: int = 4, seed: int = 0) -> LabelledEmbeddings:
    """Two classes 90/10 in every split (train 600, val 200, test 200); class 1 is shifted by ``shift`` along the
    first dimension of otherwise standard-normal features (shift 0: no signal at all)."""
    rng = np.random.default_rng(seed)
    split = np.repeat(["train", "val", "test"], [int(0.6 * n), int(0.2 * n), int(0.2 * n)])
    labels = np.concatenate([np.repeat([0, 1], [int(0.9 * m), m - int(0.9 * m)])
                             for m in (int(0.6 * n), int(0.2 * n), int(0.2 * n))])
    vectors = rng.standard_normal((n, dim))
    vectors[:, 0] += shift * labels
    ids = np.array([f"gal{i:04d}" for i in range(n)])
    return LabelledEmbeddings("toy", ids, vectors.astype(np.float32), split, pd.DataFrame({"galaxy10_class": labels}))


def test_a_majority_guess_scores_high_accuracy_but_chance_balanced_metrics_in_the_written_table(tmp_path):
    from galssl.cli import main
    from galssl.embeddings import write_embeddings

    data = imbalanced(shift=0.0)  # no signal: the regularised logistic probe falls back on the 90% class
    write_embeddings(tmp_path / "emb.parquet", list(data.object_ids), data.vectors, "toy")
    pd.DataFrame({"object_id": data.object_ids, "ra": 0.0, "dec": 0.0,
                  "split": data.split}).to_parquet(tmp_path / "catalog.parquet")
    data.labels.assign(object_id=data.object_ids).to_parquet(tmp_path / "labels.parquet")
    main(["probes", "--embeddings", str(tmp_path / "emb.parquet"), "--catalog", str(tmp_path / "catalog.parquet"),
          "--labels", str(tmp_path / "labels.parquet"), "--seed", "0", "--method", "noise",
          "--probes", '{"classifiers": ["logistic"], "logistic_c": [0.001]}',
          "--metrics-out", str(tmp_path / "metrics.parquet"), "--class-predictions-out", str(tmp_path / "c.parquet"),
          "--vote-predictions-out", str(tmp_path / "v.parquet")])
    predictions = pd.read_parquet(tmp_path / "c.parquet")
    assert len(predictions) == 200 and (predictions["predicted_class"] == 0).all()  # the majority guess
    table = pd.read_parquet(tmp_path / "metrics.parquet")
    test = table[(table["split"] == "test") & (table["task"] == "classes_logistic")].set_index("metric")["value"]
    assert test["accuracy"] == pytest.approx(0.9)
    assert test["balanced_accuracy"] == pytest.approx(0.5)
    assert test["macro_f1"] == pytest.approx(0.9 / 1.9) and test["macro_f1"] < 0.5


@pytest.mark.parametrize("kind", ["logistic", "knn", "mlp"])
def test_balanced_class_weight_moves_predictions_toward_the_minority_class(kind):
    data = imbalanced(shift=1.5)  # overlapping classes: an unweighted fit mostly answers "0"
    grids = dict(logistic_c=(1.0,), knn_k=(15,), mlp_alpha=(0.01,), mlp_hidden_units=16, mlp_max_iter=200)
    tables, minority = {}, {}
    for weight in (None, "balanced"):
        settings = ProbeSettings(classifiers=(kind,), class_weight=weight, **grids)
        tables[weight], predictions = run_class_probes(data, settings, seed=0, log=lambda *_: None)
        minority[weight] = int((predictions["predicted_class"] == 1).sum())
    # 20 of the 200 test galaxies are class 1: the balanced fit names it far more often ...
    assert minority["balanced"] > 1.5 * max(minority[None], 1), minority
    # ... and its mean recall per class (balanced accuracy) is higher.
    balanced_accuracy = {weight: table.query("split == 'test' and metric == 'balanced_accuracy'")["value"].item()
                         for weight, table in tables.items()}
    assert balanced_accuracy["balanced"] > balanced_accuracy[None] + 0.05, balanced_accuracy


def test_balanced_knn_weighs_each_neighbour_vote_by_its_class_weight():
    from galssl.evaluate.probes import BalancedKNeighborsClassifier

    # Train: 9 of class 0 at x = 0, 1 of class 1 at x = 1. With k = 10 and uniform votes, the plain kNN says 0 with
    # probability 0.9; the class weights 10 / (2 * 9) and 10 / (2 * 1) make both classes weigh 5 in total: 0.5 each.
    x = np.array([[0.0]] * 9 + [[1.0]])
    y = np.array([0] * 9 + [1])
    balanced = BalancedKNeighborsClassifier(n_neighbors=10).fit(x, y)
    assert balanced.class_weight_ == pytest.approx([10 / 18, 5.0])
    assert balanced.predict_proba([[0.2]]) == pytest.approx(np.array([[0.5, 0.5]]))
    # k = 3 near x = 0.9: neighbours two of class 0 (votes 10/18 each) and the one of class 1 (vote 5): class 1.
    three = BalancedKNeighborsClassifier(n_neighbors=3).fit(x, y)
    assert three.predict([[0.9]]).tolist() == [1]
    from sklearn.neighbors import KNeighborsClassifier
    assert KNeighborsClassifier(n_neighbors=3).fit(x, y).predict([[0.9]]).tolist() == [0]


def test_class_weight_setting_is_checked_and_off_by_default():
    from galssl.evaluate.probes import make_classifier

    assert ProbeSettings().class_weight is None and ProbeSettings().selection_metric == "accuracy"
    assert make_classifier("logistic", 1.0, ProbeSettings(), 0).class_weight is None
    balanced = ProbeSettings.from_section({"class_weight": "balanced"})
    assert balanced.selection_metric == "balanced_accuracy"
    assert make_classifier("logistic", 1.0, balanced, 0).class_weight == "balanced"
    with pytest.raises(ConfigError, match="probes.class_weight is 'balance'"):
        ProbeSettings.from_section({"class_weight": "balance"})


def test_soft_label_probe_recovers_a_planted_linear_signal():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((800, 5))
    weight = np.array([[1.5], [-2.0], [0.0], [0.5], [0.0]])
    fraction = 1.0 / (1.0 + np.exp(-(x @ weight + 0.3)))
    probe = SoftLabelProbe(l2=1e-4).fit(x[:600], fraction[:600])
    predicted = probe.predict(x[600:])
    assert np.sqrt(np.mean((predicted - fraction[600:]) ** 2)) < 0.01
    recovered = probe.weight.numpy().ravel()
    assert recovered == pytest.approx(weight.ravel(), abs=0.05)
    assert float(probe.bias) == pytest.approx(0.3, abs=0.05)


def test_soft_probe_selection_prefers_the_lower_validation_loss():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 40))
    fraction = rng.binomial(10, 1.0 / (1.0 + np.exp(-x[:, :1]))) / 10.0  # ten noisy votes each
    # 40 features, 60 train galaxies: a vanishing penalty over-fits the vote noise, a huge one predicts the mean.
    probe, l2 = fit_soft_probe(x[:60], fraction[:60], x[60:], fraction[60:], (0.0, 0.1, 1000.0), seed=0)
    assert l2 == 0.1


def test_vote_fraction_probes_keep_galaxies_with_enough_votes():
    data, _ = planted_votes()
    settings = ProbeSettings(gz_questions=("smooth_or_featured",), min_votes=20)
    table, predictions = run_vote_fraction_probes(data, settings, seed=0, log=lambda *_: None)
    totals = data.labels[total_column("smooth_or_featured")].to_numpy()
    n_test = int(((data.split == "test") & (totals >= 20)).sum())
    n_train = int(((data.split == "train") & (totals >= 20)).sum())
    assert predictions.groupby("answer").size().to_dict() == {
        "smooth": n_test, "featured_or_disk": n_test, "star_or_artifact": n_test}
    assert set(table["task"]) == {f"gz_smooth_or_featured__{a}" for a in ("smooth", "featured_or_disk",
                                                                            "star_or_artifact")}
    assert set(table["n_labels"]) == {n_train} and set(table["split"]) == {"test"}
    assert {"accuracy", "precision", "recall", "auc", "outlier_fraction"} <= set(table["metric"])
    auc = table[table["metric"] == "auc"]["value"]
    assert (auc > 0.9).all()  # the fractions are a function of the embedding


def test_vote_probes_are_off_without_a_tree():
    data, _ = planted_votes(n=50)
    table, predictions = run_vote_fraction_probes(data, ProbeSettings(gz_tree=None), seed=0)
    assert table.empty and predictions.empty


def test_missing_class_column_is_a_one_line_error():
    data = planted_clusters(n_per_class=5)
    with pytest.raises(DataError, match="label column 'morphology'") as error:
        run_class_probes(data, ProbeSettings(class_column="morphology"), seed=0)
    assert "\n" not in str(error.value)


def test_question_absent_from_the_tree_is_a_one_line_error():
    data, _ = planted_votes(n=50)
    with pytest.raises(ConfigError, match="'has_bar' is not in Galaxy Zoo tree gz2") as error:
        run_vote_fraction_probes(data, ProbeSettings(gz_questions=("has_bar",)), seed=0)
    assert "\n" not in str(error.value)


def test_missing_vote_column_names_the_column():
    data, _ = planted_votes(n=50)
    with pytest.raises(DataError, match="disk_edge_on__total"):
        run_vote_fraction_probes(data, ProbeSettings(gz_questions=("disk_edge_on",)), seed=0)


def test_one_class_only_is_an_error():
    data = planted_clusters(n_per_class=10, n_classes=1)
    with pytest.raises(DataError, match="at least two classes"):
        run_class_probes(data, ProbeSettings(), seed=0)


def test_probe_settings_reject_unknown_keys_and_classifiers():
    with pytest.raises(ConfigError, match="unknown key 'clasifiers' in probes"):
        ProbeSettings.from_section({"clasifiers": ["knn"]})
    with pytest.raises(ConfigError, match="probes.classifiers has 'svm'"):
        ProbeSettings.from_section({"classifiers": ["svm"]})
    assert ProbeSettings.from_section({"knn_k": [3]}).knn_k == (3,)


def test_gz_decals_tree_loads_in_the_gz2_format():
    tree = DecisionTree.load("gz_decals")
    names = [question.name for question in tree.questions]
    assert names[0] == "smooth_or_featured" and len(names) == 10
    assert tree.question("bar").answers == ("strong", "weak", "no")
    assert tree.question("bulge_size").answers == ("dominant", "large", "moderate", "small", "none")
    assert tree.question("merging").answers == ("none", "minor_disturbance", "major_disturbance", "merger")
    assert tree.question("has_spiral_arms").requires == (("disk_edge_on", "no"),)
    assert tree.question("merging").requires == (("smooth_or_featured", "smooth"),
                                                 ("smooth_or_featured", "featured_or_disk"))
    with pytest.raises(ConfigError, match="not in Galaxy Zoo tree gz_decals"):
        tree.question("anything_odd")


def write_toy_inputs(root, n: int = 240) -> dict[str, str]:
    """Embeddings, catalogue (with splits) and labels (classes, redshifts, gz2 smooth_or_featured votes)."""
    from galssl.embeddings import write_embeddings

    data, _ = planted_votes(n=n, dim=6, seed=7)
    rng = np.random.default_rng(8)
    classes = rng.integers(0, 3, n)
    vectors = np.concatenate([data.vectors, 4.0 * np.eye(3)[classes]], axis=1).astype(np.float32)
    ids = list(data.object_ids)
    write_embeddings(root / "emb.parquet", ids, vectors, "toy")
    pd.DataFrame({"object_id": ids, "ra": 0.0, "dec": 0.0, "split": data.split}).to_parquet(root / "catalog.parquet")
    labels = data.labels.assign(object_id=ids, galaxy10_class=classes,
                                galaxy10_name=np.array(["round", "spiral", "edge_on"])[classes],
                                redshift=rng.uniform(0.02, 0.3, n))
    labels.to_parquet(root / "labels.parquet")
    return {"embeddings": str(root / "emb.parquet"), "catalog": str(root / "catalog.parquet"),
            "labels": str(root / "labels.parquet")}


def test_probe_cli_writes_metrics_predictions_and_figures(tmp_path, capsys):
    import json

    from PIL import Image

    from galssl.cli import main

    paths = write_toy_inputs(tmp_path)
    section = json.dumps({"classifiers": ["logistic", "knn"], "gz_questions": ["smooth_or_featured"],
                          "label_efficiency": {"min_log2": 3, "max_log2": 5, "seeds": 2}})
    common = ["--embeddings", paths["embeddings"], "--catalog", paths["catalog"], "--labels", paths["labels"],
              "--seed", "1", "--method", "toy_method", "--probes", section]
    main(["probes", *common, "--metrics-out", str(tmp_path / "p/metrics.parquet"),
          "--class-predictions-out", str(tmp_path / "p/classes.parquet"),
          "--vote-predictions-out", str(tmp_path / "p/votes.parquet")])
    table = pd.read_parquet(tmp_path / "p/metrics.parquet")
    assert list(table.columns) == METRIC_COLUMNS and set(table["method"]) == {"toy_method"}
    assert {"classes_logistic", "classes_knn", "gz_smooth_or_featured__smooth"} <= set(table["task"])
    assert {"accuracy", "balanced_accuracy", "macro_f1"} == set(table.loc[table["task"] == "classes_knn", "metric"])
    assert "classes_logistic test: accuracy" in capsys.readouterr().out
    main(["label-efficiency", *common, "--out", str(tmp_path / "le.parquet")])
    efficiency = pd.read_parquet(tmp_path / "le.parquet")
    assert sorted(efficiency["n_labels"].unique()) == [8, 16, 32] and set(efficiency["seed"]) == {1, 2}
    assert set(efficiency["metric"]) == {"accuracy", "balanced_accuracy", "macro_f1"}
    main(["plot-confusion", "--predictions", str(tmp_path / "p/classes.parquet"), "--labels", paths["labels"],
          "--out", str(tmp_path / "confusion.png")])
    main(["plot-vote-fractions", "--predictions", str(tmp_path / "p/votes.parquet"),
          "--out", str(tmp_path / "votes.png")])
    scratch = efficiency[efficiency["task"] == "classes_logistic"].assign(method="supervised_from_scratch",
                                                                          task="classes_finetune")
    scratch.to_parquet(tmp_path / "scratch.parquet")
    main(["plot-label-efficiency", "--tables", str(tmp_path / "le.parquet"), str(tmp_path / "scratch.parquet"),
          "--out", str(tmp_path / "le.png")])
    # Every question skipped (too few votes): the figure says so instead of failing the run.
    pd.read_parquet(tmp_path / "p/votes.parquet").iloc[:0].to_parquet(tmp_path / "no_votes.parquet")
    main(["plot-vote-fractions", "--predictions", str(tmp_path / "no_votes.parquet"),
          "--out", str(tmp_path / "no_votes.png")])
    assert (tmp_path / "no_votes.png").stat().st_size > 1000
    for name in ("confusion.png", "votes.png", "le.png"):
        width, height = Image.open(tmp_path / name).size
        assert width > 400 and height > 400


def test_probe_cli_reports_a_missing_column_on_one_line(tmp_path, capsys):
    from galssl.cli import main

    paths = write_toy_inputs(tmp_path, n=60)
    with pytest.raises(SystemExit) as exit_info:
        main(["probes", "--embeddings", paths["embeddings"], "--catalog", paths["catalog"], "--labels",
              paths["labels"], "--seed", "0", "--labels-config", '{"class_column": "gz_class"}',
              "--metrics-out", str(tmp_path / "m.parquet"), "--class-predictions-out", str(tmp_path / "c.parquet"),
              "--vote-predictions-out", str(tmp_path / "v.parquet")])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err.strip()
    assert error.startswith("galssl: error: label column 'gz_class'") and "\n" not in error
    assert not (tmp_path / "m.parquet").exists()


def test_label_tables_load_from_parquet_csv_and_fits(tmp_path):
    from astropy.table import Table

    from galssl.tables import read_table

    frame = pd.DataFrame({"object_id": ["007", "010"], "galaxy10_class": [3, -1]})
    frame.to_parquet(tmp_path / "labels.parquet")
    frame.to_csv(tmp_path / "labels.csv", index=False)
    Table.from_pandas(frame).write(tmp_path / "labels.fits")
    for name in ("labels.parquet", "labels.csv", "labels.fits"):
        table = read_table(tmp_path / name, "labels table")
        assert table["object_id"].tolist() == ["007", "010"], name  # ids stay strings with leading zeros
        assert table["galaxy10_class"].tolist() == [3, -1]
    (tmp_path / "labels.txt").write_text("x")
    with pytest.raises(DataError, match="unknown file type"):
        read_table(tmp_path / "labels.txt", "labels table")
    with pytest.raises(DataError, match="file not found"):
        read_table(tmp_path / "missing.parquet", "labels table")
