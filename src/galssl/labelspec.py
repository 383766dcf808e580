"""The `labels` config section: which label columns a run has, declared once and read by every stage.

``LabelSpec`` is the section as written (a column may be null). ``LabelSpec.resolve`` takes the column names of the
label table (read from its header when the workflow is parsed) and returns ``ResolvedLabels``: the columns that are
really there, and for each kind of label that is not, the one-line reason (``galssl.run_labels`` finds the table
and its header for a run's config). The rules pass the resolved labels to the CLIs as JSON (``--labels-config``), so
the stage code gets explicit column names and never guesses.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from galssl.errors import ConfigError
from galssl.settings import schema_defaults

if TYPE_CHECKING:  # pandas is imported only where a table is read: the CLI parser stays light
    import pandas as pd

KINDS = ("class", "redshift", "votes")
"""Kinds of label that switch stages on and off."""

VOTE_TREES = ("gz2", "gz_decals")
"""Galaxy Zoo trees ``labels.votes`` may name (resources/gz_trees/<name>.yaml)."""

CLASS_METHODS = ("supervised", "galaxalign", "galaxalign_nosymbols", "galaxalign_stage1", "galaxalign_stage2")
"""Pretraining methods that learn from the class labels."""

_KEYS = ("table", "class_column", "class_names", "redshift_column", "votes", "extra_columns")


def tree_vote_columns(tree_name: str) -> list[str]:
    """Every ``<question>__<answer>_fraction`` column of a Galaxy Zoo tree, in tree order."""
    from galssl.gztree import DecisionTree, fraction_column

    tree = DecisionTree.load(tree_name)
    return [fraction_column(question.name, answer) for question in tree.questions for answer in question.answers]


@dataclass(frozen=True)
@schema_defaults("labels")
class LabelSpec:
    """The ``labels`` config section (defaults = the schema's: the Galaxy10 / Galaxy Zoo 2 columns of the mock)."""

    table: str | None
    class_column: str | None
    class_names: str | tuple[str, ...] | None
    redshift_column: str | None
    votes: str | tuple[str, ...] | None
    extra_columns: tuple[str, ...]

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None) -> LabelSpec:
        """Build from the config section; a wrong key or type is a one-line ConfigError naming ``labels.<key>``."""
        section = dict(section or {})
        unknown = sorted(set(section) - set(_KEYS))
        if unknown:
            raise ConfigError(f"config error: unknown key {unknown[0]!r} in labels (allowed: {', '.join(_KEYS)})")
        for key in ("table", "class_column", "redshift_column"):
            _check_name(section.get(key), f"labels.{key}")
        names = section.get("class_names")
        if isinstance(names, list | tuple):
            for index, name in enumerate(names):
                _check_name(name, f"labels.class_names[{index}]", nullable=False)
            section["class_names"] = tuple(names)
        else:
            _check_name(names, "labels.class_names")
        votes = section.get("votes")
        if isinstance(votes, list | tuple):
            for index, name in enumerate(votes):
                _check_name(name, f"labels.votes[{index}]", nullable=False)
            section["votes"] = tuple(votes)
        elif votes is not None and votes not in VOTE_TREES:
            raise ConfigError(f"config error: labels.votes must be one of {', '.join(VOTE_TREES)}, a list of "
                              f"vote-fraction columns or null (got {votes!r})")
        extra = section.get("extra_columns", ())
        if not isinstance(extra, list | tuple):
            raise ConfigError(f"config error: labels.extra_columns must be a list of column names (got {extra!r})")
        for index, name in enumerate(extra):
            _check_name(name, f"labels.extra_columns[{index}]", nullable=False)
        section["extra_columns"] = tuple(extra)
        return cls(**section)

    @property
    def vote_tree(self) -> str | None:
        """The Galaxy Zoo tree named by ``votes``, or None for an explicit column list or no votes."""
        return self.votes if isinstance(self.votes, str) else None

    def wanted_vote_columns(self) -> list[str]:
        """The vote-fraction columns ``votes`` asks for: every column of the tree, or the given list."""
        if self.votes is None:
            return []
        return tree_vote_columns(self.votes) if isinstance(self.votes, str) else list(self.votes)

    def resolve(self, columns: Collection[str] | None, where: str = "the label table") -> ResolvedLabels:
        """The labels there are, given the label table's column names (None = not known: take every column as
        present). ``where`` names the table in the reasons (a file name, "the mock sky's labels")."""
        present = (lambda name: True) if columns is None else set(map(str, columns)).__contains__
        missing: dict[str, str] = {}

        def column(kind: str, key: str, name: str | None) -> str | None:
            if name is None:
                missing[kind] = f"no {kind} labels (labels.{key} is null)"
                return None
            if not present(name):
                missing[kind] = f"no {kind} column ({name!r} is not in {where}; set labels.{key})"
                return None
            return name

        class_column = column("class", "class_column", self.class_column)
        redshift_column = column("redshift", "redshift_column", self.redshift_column)
        class_names = self.class_names if class_column is not None else None
        if isinstance(class_names, str) and not present(class_names):
            class_names = None  # no name column: classes are shown as "class 0", "class 1", ...
        votes = [name for name in self.wanted_vote_columns() if present(name)]
        if self.votes is None:
            missing["votes"] = "no vote fractions (labels.votes is null)"
        elif not votes:
            wanted = (f"no <question>__<answer>_fraction column of Galaxy Zoo tree {self.votes}"
                      if isinstance(self.votes, str) else "none of the columns of labels.votes")
            missing["votes"] = f"no vote fractions ({wanted} is in {where}; set labels.votes)"
        extra = tuple(name for name in self.extra_columns if present(name))
        return ResolvedLabels(class_column=class_column, class_names=class_names, redshift_column=redshift_column,
                              vote_tree=self.vote_tree if votes else None, vote_columns=tuple(votes),
                              extra_columns=extra, missing=tuple(sorted(missing.items())))


@dataclass(frozen=True)
class ResolvedLabels:
    """The label columns a run really has (None / empty = that kind is not there) and why each missing kind is not.

    ``class_names`` is the column with each class's readable name, or the names indexed by class, or None.
    ``vote_tree`` is set only when the votes are the columns of a Galaxy Zoo tree (the vote probes need one).
    """

    class_column: str | None = None
    class_names: str | tuple[str, ...] | None = None
    redshift_column: str | None = None
    vote_tree: str | None = None
    vote_columns: tuple[str, ...] = ()
    extra_columns: tuple[str, ...] = ()
    missing: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def has(self, kind: str) -> bool:
        """True when labels of ``kind`` (class, redshift, votes) are there."""
        if kind not in KINDS:
            raise ValueError(f"label kind must be one of {', '.join(KINDS)} (got {kind!r})")
        return {"class": self.class_column is not None, "redshift": self.redshift_column is not None,
                "votes": bool(self.vote_columns)}[kind]

    def reason(self, kind: str) -> str:
        """Why ``kind`` is not there ('' when it is)."""
        return dict(self.missing).get(kind, "")

    @property
    def any(self) -> bool:
        """True when there is any label column at all (class, redshift, votes or an extra column)."""
        return any(self.has(kind) for kind in KINDS) or bool(self.extra_columns)

    @property
    def class_name_column(self) -> str | None:
        """The column of readable class names, when the names are a column."""
        return self.class_names if isinstance(self.class_names, str) else None

    def columns(self) -> list[str]:
        """Every label column there is (class, names, redshift, votes, extra), each once."""
        names = [self.class_column, self.class_name_column, self.redshift_column, *self.vote_columns,
                 *self.extra_columns]
        return list(dict.fromkeys(name for name in names if name))

    def class_name_map(self, labels: pd.DataFrame | None = None) -> dict[int, str] | None:
        """Class value -> readable name: from the name list, or from the (class, name) pairs of ``labels``."""
        import pandas as pd

        if isinstance(self.class_names, tuple):
            return dict(enumerate(self.class_names))
        column = self.class_name_column
        if labels is None or column is None or self.class_column not in labels.columns or column not in labels.columns:
            return None
        pairs = labels[[self.class_column, column]].dropna().drop_duplicates(self.class_column)
        pairs = pairs[pd.to_numeric(pairs[self.class_column], errors="coerce") >= 0]
        return {int(value): str(name) for value, name in zip(pairs[self.class_column], pairs[column])}

    def to_json(self) -> str:
        """Canonical JSON for ``--labels-config`` (the reasons are left out: a CLI does not need them)."""
        data = {"class_column": self.class_column, "redshift_column": self.redshift_column,
                "class_names": list(self.class_names) if isinstance(self.class_names, tuple) else self.class_names,
                "vote_tree": self.vote_tree, "vote_columns": list(self.vote_columns),
                "extra_columns": list(self.extra_columns)}
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ResolvedLabels:
        """Parse ``--labels-config`` (a key left out = that label is not there)."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(f"--labels-config is not valid JSON ({error.msg}); pass the resolved labels "
                              "section as the workflow does") from None
        names = data.get("class_names")
        return cls(class_column=data.get("class_column"),
                   class_names=tuple(names) if isinstance(names, list) else names,
                   redshift_column=data.get("redshift_column"), vote_tree=data.get("vote_tree"),
                   vote_columns=tuple(data.get("vote_columns", ())),
                   extra_columns=tuple(data.get("extra_columns", ())))


def labels_from_cli(text: str | None) -> ResolvedLabels | None:
    """``--labels-config`` parsed, or None when it was not given: each stage then keeps its own defaults (the
    Galaxy10 class and name columns, redshift, and every <question>__<answer>_fraction column of the table)."""
    return ResolvedLabels.from_json(text) if text else None


def add_labels_argument(parser: Any) -> None:
    """Add ``--labels-config`` (the resolved labels as JSON) to an argparse parser."""
    parser.add_argument("--labels-config", default=None,
                        help="the resolved `labels` section as JSON (galssl.labelspec, as the workflow passes it); "
                             "default: the Galaxy10 class and name, redshift and every vote-fraction column")


def trainable_methods(methods: Sequence[str], labels: ResolvedLabels) -> tuple[list[str], list[str]]:
    """(methods that can train, methods left out): without a class column, those that learn from classes
    (``CLASS_METHODS``) cannot."""
    if labels.has("class"):
        return list(methods), []
    return [m for m in methods if m not in CLASS_METHODS], [m for m in methods if m in CLASS_METHODS]


def _check_name(value: object, key: str, nullable: bool = True) -> None:
    """A column or file name: a non-empty string (or null when ``nullable``)."""
    if value is None and nullable:
        return
    if not isinstance(value, str) or not value:
        allowed = "a non-empty string or null" if nullable else "a non-empty string"
        shown = "null" if value is None else repr(value)
        raise ConfigError(f"config error: {key} must be {allowed} (got {shown})")

