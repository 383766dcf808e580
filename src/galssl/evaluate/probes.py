"""Morphology probes on frozen embeddings: class probes (logistic regression, kNN, MLP) and Galaxy Zoo vote-fraction
probes (one soft-label linear model per question of the decision tree, binary cross-entropy on the fractions).

Features are standardised with the train split's mean and scale; hyper-parameters are chosen on the val split and
every number is measured on the whole test split. Class probes report accuracy, balanced accuracy and macro F1;
``probes.class_weight: balanced`` weighs every class equally in the fit (see ``make_classifier``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight

from galssl import metrics
from galssl.errors import ConfigError, DataError
from galssl.evaluate.labelled import LabelledEmbeddings, standardise
from galssl.gztree import DecisionTree, fraction_column, total_column
from galssl.metric_table import metric_frame, metric_rows
from galssl.settings import parse_section, schema_defaults

CLASSIFIERS = ("logistic", "knn", "mlp")
CLASS_WEIGHTS = (None, "balanced")
"""Values of ``probes.class_weight``: every galaxy counts the same, or every class weighs the same in total."""
LABEL_FIELDS = ("class_column", "gz_tree")
"""ProbeSettings fields that come from the `labels` section (labels.class_column, labels.votes), not `probes`."""
PREDICTION_COLUMNS = ["object_id", "probe", "true_class", "predicted_class"]


@dataclass(frozen=True)
@schema_defaults("probes", class_column="/labels.class_column", gz_tree="/labels.votes")
class ProbeSettings:
    """The ``probes`` config section (defaults = the schema's), with the label columns of the ``labels`` section:
    ``class_column`` (None = no class probes) and ``gz_tree`` (None = no vote-fraction probes)."""

    class_column: str | None
    classifiers: tuple[str, ...]
    logistic_c: tuple[float, ...]
    knn_k: tuple[int, ...]
    mlp_hidden_units: int
    mlp_alpha: tuple[float, ...]
    mlp_max_iter: int
    gz_tree: str | None
    gz_questions: tuple[str, ...] | None
    min_votes: int
    soft_l2: tuple[float, ...]
    class_weight: str | None
    label_efficiency: dict = field(default_factory=dict)  # parsed by LabelEfficiencySettings.from_section

    @classmethod
    def from_section(cls, section: dict | None, labels: Any = None) -> ProbeSettings:
        """Parse the config section (``galssl.settings.parse_section``) with the resolved labels (a
        galssl.labelspec.ResolvedLabels; None = the ``labels`` section's defaults)."""
        context = {} if labels is None else dict(class_column=labels.class_column, gz_tree=labels.vote_tree)
        return parse_section(cls, section, "probes", **context)

    def check(self) -> None:
        """Classifier names and class weights the probes know."""
        for kind in self.classifiers:
            if kind not in CLASSIFIERS:
                raise ConfigError(f"config error: probes.classifiers has {kind!r} (allowed: {', '.join(CLASSIFIERS)})")
        if self.class_weight not in CLASS_WEIGHTS:
            raise ConfigError(f"config error: probes.class_weight is {self.class_weight!r} (allowed: null, "
                              "balanced)")

    @property
    def selection_metric(self) -> str:
        """Val metric that picks each probe's hyper-parameter: balanced accuracy when the classes are balanced in
        the fit (the two ask the same question), else accuracy."""
        return "balanced_accuracy" if self.class_weight == "balanced" else "accuracy"


# --- class probes ------------------------------------------------------------------------------------------------
class BalancedKNeighborsClassifier(KNeighborsClassifier):
    """kNN whose neighbours vote with their class's balanced weight n / (K · n_class) times the usual (distance)
    weight: the kNN form of sample weights, which ``KNeighborsClassifier.fit`` does not take."""

    def fit(self, X, y):
        """Fit as kNN and keep each class's balanced weight (``compute_class_weight("balanced")``)."""
        super().fit(X, y)
        self.class_weight_ = compute_class_weight("balanced", classes=self.classes_, y=np.asarray(y))
        return self

    def predict_proba(self, X):
        """kNN vote shares reweighted per class and renormalised."""
        votes = super().predict_proba(X) * self.class_weight_
        return votes / votes.sum(axis=1, keepdims=True)

    def predict(self, X):
        """The class with the largest reweighted vote."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def make_classifier(kind: str, parameter: float, settings: ProbeSettings, seed: int):
    """An unfitted sklearn classifier of ``kind`` with its tuned parameter (C, k or alpha).

    With ``settings.class_weight == "balanced"``: logistic regression gets ``class_weight="balanced"``, kNN is a
    ``BalancedKNeighborsClassifier``, and the MLP (no class_weight in scikit-learn) gets balanced sample weights in
    ``fit_classifier``."""
    balanced = settings.class_weight == "balanced"
    if kind == "logistic":
        return LogisticRegression(C=parameter, max_iter=300, class_weight="balanced" if balanced else None)
    if kind == "knn":
        knn = BalancedKNeighborsClassifier if balanced else KNeighborsClassifier
        return knn(n_neighbors=int(parameter), weights="distance")
    if kind == "mlp":
        return MLPClassifier(hidden_layer_sizes=(settings.mlp_hidden_units,), alpha=parameter,
                             max_iter=settings.mlp_max_iter, random_state=seed)
    raise ConfigError(f"config error: probes.classifiers has {kind!r} (allowed: {', '.join(CLASSIFIERS)})")


def fit_classifier(model, x: np.ndarray, y: np.ndarray, class_weight: str | None):
    """Fit ``model`` (convergence warnings silenced); an MLP under ``class_weight="balanced"`` gets the sample
    weights n / (K · n_class) (``compute_sample_weight``), so each class weighs the same in its loss."""
    extra = {}
    if class_weight == "balanced" and isinstance(model, MLPClassifier):
        extra["sample_weight"] = compute_sample_weight("balanced", y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y, **extra)


def parameter_grid(kind: str, settings: ProbeSettings, n_train: int) -> list[float]:
    """Values tried on val: C for logistic, k for kNN (capped at the train size), alpha for the MLP."""
    if kind == "knn":
        return sorted({min(int(k), n_train) for k in settings.knn_k})
    return list(settings.logistic_c if kind == "logistic" else settings.mlp_alpha)


def fit_selected(kind: str, settings: ProbeSettings, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                 y_val: np.ndarray, seed: int):
    """Fit one classifier per grid value on train, keep the best val ``settings.selection_metric`` (first on ties;
    the first grid value when val is empty). Returns (fitted classifier, chosen parameter)."""
    best, best_score, best_parameter = None, -1.0, None
    for parameter in parameter_grid(kind, settings, len(y_train)):
        model = fit_classifier(make_classifier(kind, parameter, settings, seed), x_train, y_train,
                               settings.class_weight)
        if len(y_val) == 0:
            return model, parameter
        score = metrics.class_metrics(y_val, model.predict(x_val))[settings.selection_metric]
        if score > best_score:
            best, best_score, best_parameter = model, score, parameter
    return best, best_parameter


def class_labels(data: LabelledEmbeddings, column: str) -> np.ndarray:
    """Integer classes of the column; -1 or missing (non-galaxies, unlabelled) stay -1."""
    if column is None:
        raise ConfigError("config error: labels.class_column is null, so there are no classes to fit; name the "
                          "integer class column of the label table")
    raw = pd.to_numeric(pd.Series(data.column(column, "the label table (labels.class_column)")), errors="coerce")
    return raw.fillna(-1).astype("int64").to_numpy()


def run_class_probes(data: LabelledEmbeddings, settings: ProbeSettings, seed: int,
                     log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every configured classifier on the class column: (tidy metrics: accuracy, balanced_accuracy and macro_f1 on
    val and test; test predictions object_id/probe/true/predicted). Objects with class −1 (non-galaxies) are left
    out of every split. Without a class column (votes only) both tables are empty, with their columns."""
    if settings.class_column is None:
        return metric_frame([]), pd.DataFrame(columns=PREDICTION_COLUMNS)
    y = class_labels(data, settings.class_column)
    keep = y >= 0
    split = data.split[keep]
    y = y[keep]
    train, val, test = (split == "train"), (split == "val"), (split == "test")
    if len(np.unique(y[train])) < 2:
        raise DataError(f"labels.class_column {settings.class_column!r}: the train split needs at least two "
                        f"classes with labels >= 0 (got {len(np.unique(y[train]))})")
    x = data.vectors[keep]
    x_train, x_val, x_test = standardise(x[train], x[val], x[test])
    rows, predictions = [], []
    for kind in settings.classifiers:
        model, parameter = fit_selected(kind, settings, x_train, y[train], x_val, y[val], seed)
        weights = " (balanced class weights)" if settings.class_weight == "balanced" else ""
        log(f"{data.method} classes/{kind}{weights}: chose {parameter} by val {settings.selection_metric}")
        task = f"classes_{kind}"
        for name, xs, ys in (("val", x_val, y[val]), ("test", x_test, y[test])):
            if len(ys) == 0:
                continue
            guess = model.predict(xs)
            rows += metric_rows(data.method, task, int(train.sum()), seed, name, metrics.class_metrics(ys, guess))
            if name == "test":
                predictions.append(pd.DataFrame({"object_id": data.object_ids[keep][test], "probe": kind,
                                                 "true_class": ys, "predicted_class": guess}))
    frame = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(columns=PREDICTION_COLUMNS)
    return metric_frame(rows), frame


# --- Galaxy Zoo vote fractions -----------------------------------------------------------------------------------
class SoftLabelProbe:
    """Linear model with one sigmoid output per answer, fitted by binary cross-entropy on vote fractions plus
    ``l2``·|W|²/2 (full-batch L-BFGS, deterministic on CPU)."""

    def __init__(self, l2: float = 0.001, max_iter: int = 100) -> None:
        self.l2 = l2
        self.max_iter = max_iter
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def fit(self, x: np.ndarray, fractions: np.ndarray, seed: int = 0) -> SoftLabelProbe:
        """Fit on (n, D) features and (n, K) vote fractions in [0, 1]."""
        generator = torch.Generator().manual_seed(seed)
        features = torch.as_tensor(x, dtype=torch.float32)
        target = torch.as_tensor(np.clip(fractions, 0.0, 1.0), dtype=torch.float32)
        weight = (0.01 * torch.randn(features.shape[1], target.shape[1], generator=generator)).requires_grad_()
        mean = target.mean(0).clamp(1e-3, 1 - 1e-3)
        bias = torch.log(mean / (1 - mean)).clone().requires_grad_()  # start at the base rates
        optimiser = torch.optim.LBFGS([weight, bias], max_iter=self.max_iter, line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            optimiser.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(features @ weight + bias, target)
            loss = loss + 0.5 * self.l2 * (weight ** 2).sum()
            loss.backward()
            return loss

        optimiser.step(closure)
        self.weight, self.bias = weight.detach(), bias.detach()
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Predicted vote fractions (n, K), each answer's sigmoid on its own."""
        if self.weight is None:
            raise RuntimeError("SoftLabelProbe.predict before fit")
        with torch.no_grad():
            logits = torch.as_tensor(x, dtype=torch.float32) @ self.weight + self.bias
        return torch.sigmoid(logits).numpy().astype(np.float64)

    def loss(self, x: np.ndarray, fractions: np.ndarray) -> float:
        """Mean binary cross-entropy of the predictions against vote fractions."""
        p = np.clip(self.predict(x), 1e-7, 1 - 1e-7)
        f = np.clip(fractions, 0.0, 1.0)
        return float(-np.mean(f * np.log(p) + (1 - f) * np.log(1 - p)))


def fit_soft_probe(x_train: np.ndarray, f_train: np.ndarray, x_val: np.ndarray, f_val: np.ndarray,
                   l2_grid: tuple[float, ...], seed: int) -> tuple[SoftLabelProbe, float]:
    """One SoftLabelProbe per l2 value; keep the lowest val cross-entropy (the middle value when val is empty)."""
    if len(f_val) == 0:
        l2 = l2_grid[len(l2_grid) // 2]
        return SoftLabelProbe(l2).fit(x_train, f_train, seed), l2
    fitted = [(SoftLabelProbe(l2).fit(x_train, f_train, seed), l2) for l2 in l2_grid]
    return min(fitted, key=lambda pair: pair[0].loss(x_val, f_val))


def question_fractions(data: LabelledEmbeddings, tree: DecisionTree, question: str,
                       min_votes: int) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """(mask of galaxies with >= min_votes answers to the question, (n, K) vote fractions, answers)."""
    answers = tree.question(question).answers
    source = f"the label table (Galaxy Zoo tree {tree.name}, question {question})"
    total = pd.to_numeric(pd.Series(data.column(total_column(question), source)), errors="coerce").to_numpy()
    fractions = np.stack([pd.to_numeric(pd.Series(data.column(fraction_column(question, a), source)),
                                        errors="coerce").to_numpy(dtype=float) for a in answers], axis=1)
    mask = (np.nan_to_num(total, nan=0.0) >= min_votes) & np.isfinite(fractions).all(axis=1)
    return mask, fractions, answers


def _has_votes(data: LabelledEmbeddings, question) -> bool:
    """True when the label table has the question's total and every answer's fraction column."""
    wanted = [total_column(question.name)] + [fraction_column(question.name, a) for a in question.answers]
    return all(column in data.labels.columns for column in wanted)


def run_vote_fraction_probes(data: LabelledEmbeddings, settings: ProbeSettings, seed: int,
                             log=print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One soft-label probe per question: (tidy metrics per answer on test, test predictions object_id/question/
    answer/true_fraction/predicted_fraction). Questions without train or test galaxies are reported and skipped."""
    if settings.gz_tree is None:
        return metric_frame([]), pd.DataFrame(columns=["object_id", "question", "answer", "true_fraction",
                                                       "predicted_fraction"])
    tree = DecisionTree.load(settings.gz_tree)
    # Every question the table has votes for (a table may hold part of a tree); questions asked for by name must exist.
    questions = settings.gz_questions or tuple(q.name for q in tree.questions if _has_votes(data, q))
    for question in questions:
        tree.question(question)  # a ConfigError naming the tree's questions, before any fit
    rows, predictions = [], []
    for question in questions:
        mask, fractions, answers = question_fractions(data, tree, question, settings.min_votes)
        split = data.split
        train, val, test = (mask & (split == s) for s in ("train", "val", "test"))
        if train.sum() < 2 or test.sum() == 0:
            log(f"{data.method} gz/{question}: skipped ({int(train.sum())} train, {int(test.sum())} test galaxies "
                f"with >= {settings.min_votes} votes)")
            continue
        x_train, x_val, x_test = standardise(data.vectors[train], data.vectors[val], data.vectors[test])
        probe, l2 = fit_soft_probe(x_train, fractions[train], x_val, fractions[val], settings.soft_l2, seed)
        predicted = probe.predict(x_test)
        log(f"{data.method} gz/{question}: {int(train.sum())} train galaxies, chose l2={l2} on val")
        for k, answer in enumerate(answers):
            values = metrics.vote_fraction_metrics(fractions[test, k], predicted[:, k])
            rows += metric_rows(data.method, f"gz_{question}__{answer}", int(train.sum()), seed, "test", values)
            predictions.append(pd.DataFrame({"object_id": data.object_ids[test], "question": question,
                                             "answer": answer, "true_fraction": fractions[test, k],
                                             "predicted_fraction": predicted[:, k]}))
    frame = pd.concat(predictions, ignore_index=True) if predictions else pd.DataFrame(
        columns=["object_id", "question", "answer", "true_fraction", "predicted_fraction"])
    return metric_frame(rows), frame
