"""Galaxy Zoo decision trees (resources/gz_trees/*.yaml): questions, answers, and vote-table column names."""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from galssl.errors import ConfigError
from galssl.resources import resource_path


@dataclass(frozen=True)
class Question:
    """One decision-tree question; ``requires`` lists the (question, answer) pairs that lead to it."""

    name: str
    answers: tuple[str, ...]
    requires: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class DecisionTree:
    """A Galaxy Zoo decision tree with questions in an order where parents come before children."""

    name: str
    questions: tuple[Question, ...]

    @classmethod
    def load(cls, name: str) -> DecisionTree:
        """Load ``resources/gz_trees/<name>.yaml``."""
        with open(resource_path("gz_trees", f"{name}.yaml"), encoding="utf-8") as handle:
            raw = yaml.safe_load(handle)
        questions = []
        for qname, spec in raw["questions"].items():
            requires = spec.get("requires")
            requires = [] if requires is None else [requires] if isinstance(requires, str) else list(requires)
            pairs = tuple(tuple(item.split(".", 1)) for item in requires)
            questions.append(Question(qname, tuple(str(a) for a in spec["answers"]), pairs))
        tree = cls(raw.get("name", name), tuple(questions))
        tree._check_order()
        return tree

    def _check_order(self) -> None:
        seen: dict[str, Question] = {}
        for question in self.questions:
            for parent, answer in question.requires:
                if parent not in seen or answer not in seen[parent].answers:
                    raise ConfigError(f"gz tree {self.name}: question {question.name} requires {parent}.{answer}, "
                                      "which is not an earlier question's answer")
            seen[question.name] = question

    def question(self, name: str) -> Question:
        """Return a question by name, or a ConfigError listing the tree's questions."""
        for question in self.questions:
            if question.name == name:
                return question
        raise ConfigError(f"question {name!r} is not in Galaxy Zoo tree {self.name} "
                          f"(questions: {', '.join(q.name for q in self.questions)})")


def fraction_column(question: str, answer: str) -> str:
    """Vote-fraction column name, e.g. ``smooth_or_featured__smooth_fraction``."""
    return f"{question}__{answer}_fraction"


def count_column(question: str, answer: str) -> str:
    """Vote-count column name."""
    return f"{question}__{answer}_count"


def total_column(question: str) -> str:
    """Number of volunteers who answered a question."""
    return f"{question}__total"
