"""The ``finetune`` config section as one frozen dataclass, with the checks across sections a schema cannot express."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from galssl.errors import ConfigError
from galssl.settings import parse_section, schema_defaults

BEST = "best"
"""Placeholder in ``finetune.methods`` for the self-supervised method with the best frozen-probe val score."""
SELF_SUPERVISED = ("simclr", "moco", "mae")
"""Pretraining methods that never see a label; ``best`` chooses among those that were trained."""
TASKS = ("classes", "photoz")
AUGMENTS = ("geometric", "pretrain")
PROBES = ("logistic", "knn", "mlp")


@dataclass(frozen=True)
@schema_defaults("finetune")
class FinetuneSettings:
    """``finetune``: which encoders, which tasks, and the optimisation (defaults = the schema's, sized for a CPU demo).

    ``head_lr`` is the peak AdamW learning rate of the new head; the encoder's is ``encoder_lr_ratio`` × that
    (Hayat et al.'s and the Galaxy10 ladder's "10× smaller"). ``n_labels`` = None trains on every labelled train
    galaxy, an integer on the first N of the label-efficiency subsets (same seed, nested and stratified).
    ``augment``: ``geometric`` = pretraining's rotation/flip and jitter crop only (photometric augmentations would
    change the colours photo-z reads); ``pretrain`` = every pretraining augmentation.
    """

    methods: tuple[str, ...]
    tasks: tuple[str, ...]
    select_probe: str
    epochs: int
    batch_size: int
    head_lr: float
    encoder_lr_ratio: float
    weight_decay: float
    warmup_epochs: float
    patience: int
    n_labels: int | None
    augment: str

    @classmethod
    def from_section(cls, section: Mapping[str, Any] | None, pretrain_methods: Sequence[str] | None = None,
                     probe_classifiers: Sequence[str] | None = None) -> FinetuneSettings:
        """Parse the config section (``galssl.settings.parse_section``); with the trained methods and probe
        classifiers also check that ``best`` can be chosen (its select_probe is fitted). Problems are one-line
        ConfigErrors."""
        settings = parse_section(cls, section, "finetune")
        settings._check(pretrain_methods, probe_classifiers)
        return settings

    def _check(self, pretrain_methods: Sequence[str] | None, probe_classifiers: Sequence[str] | None) -> None:
        for key, value, allowed in (("tasks", self.tasks, TASKS), ("augment", (self.augment,), AUGMENTS),
                                    ("select_probe", (self.select_probe,), PROBES)):
            for item in value:
                if item not in allowed:
                    raise ConfigError(f"config error: finetune.{key} has {item!r} (allowed: {', '.join(allowed)})")
        if self.epochs < 1 or self.batch_size < 2 or self.head_lr <= 0 or self.encoder_lr_ratio < 0:
            raise ConfigError(f"config error: finetune needs epochs >= 1, batch_size >= 2, head_lr > 0 and "
                              f"encoder_lr_ratio >= 0 (got {self.epochs}, {self.batch_size}, {self.head_lr}, "
                              f"{self.encoder_lr_ratio})")
        if self.n_labels is not None and self.n_labels < 2:
            raise ConfigError(f"config error: finetune.n_labels must be null or >= 2 (got {self.n_labels})")
        if probe_classifiers is not None and pretrain_methods is not None and BEST in self.slots(pretrain_methods) \
                and self.select_probe not in probe_classifiers:
            raise ConfigError(f"config error: finetune.select_probe {self.select_probe!r} is not fitted "
                              f"(probes.classifiers: {', '.join(probe_classifiers)}); choose one of those")

    def slots(self, pretrain_methods: Sequence[str]) -> list[str]:
        """The listed methods that were trained, in config order: ``best`` when some self-supervised method was,
        a named method when it is in ``pretrain.methods`` (so the default [best, supervised] also fits a config
        without labels or without the supervised baseline)."""
        return [method for method in self.methods
                if (method == BEST and self.candidates(pretrain_methods)) or method in pretrain_methods]

    @property
    def encoder_lr(self) -> float:
        """Peak learning rate of the encoder: ``encoder_lr_ratio`` × ``head_lr``."""
        return self.encoder_lr_ratio * self.head_lr

    @staticmethod
    def candidates(pretrain_methods: Sequence[str]) -> list[str]:
        """The trained self-supervised methods ``best`` chooses among, in config order."""
        return [method for method in pretrain_methods if method in SELF_SUPERVISED]
