# Config validation and the helpers that turn the config into target lists.
import json
import os
import sys

from snakemake.utils import min_version

from galssl.catalog import check_object_count, count_rows
from galssl.config import embedding_names as config_embedding_names
from galssl.config import read_config_file, validate_config
from galssl.errors import ConfigError, DataError
from galssl.labelspec import trainable_methods
from galssl.run_labels import resolve_config

min_version("9.0")


# galssl's own check first: it prints one line naming the key, and it also runs the cross-key checks the
# schema cannot express. Exit before Snakemake builds the DAG, so no job starts on a bad config. Snakemake has
# already parsed the config files with its own YAML loader, which keeps the last of two equal keys: galssl's reader
# reads each of them again to refuse that.
# The config is validated once: galssl's validate_config returns it with the schema defaults filled in, and that
# copy replaces Snakemake's `config` in place (Snakemake's own `validate` would only check the same schema again).
try:
    for config_file in workflow.configfiles:
        read_config_file(config_file)
    _filled = validate_config(config)
except ConfigError as error:
    print(error, file=sys.stderr)
    sys.exit(1)
config.clear()
config.update(_filled)

# Which labels the run has, from the label table's header (galssl.run_labels): decided once, when the DAG is built.
try:
    LABEL_TABLE, LABELS = resolve_config(config)
except (ConfigError, DataError) as error:
    print(error, file=sys.stderr)
    sys.exit(1)

# How many objects the run has, counted once from the catalogue's header or the mock settings. Too few to fill the
# splits is one line here, not a crash while the DAG is built or in a training job.
try:
    if config["catalog"]["source"] == "mock":
        N_OBJECTS = config["mock"]["n_objects"]
        check_object_count(N_OBJECTS, "mock.n_objects")
    else:
        N_OBJECTS = count_rows(config["catalog"]["path"])
        check_object_count(N_OBJECTS, f"catalog.path {config['catalog']['path']}")
except (ConfigError, DataError) as error:
    print(error, file=sys.stderr)
    sys.exit(1)

# Stages `all` leaves out, and why: stage -> reason, printed once by all_targets().
LEFT_OUT = {}


def leave_out(stage, reason):
    """Record that `stage` is not in `all` because of `reason` (printed once, on stderr)."""
    LEFT_OUT.setdefault(stage, reason)


# Without classes the supervised and GalaxAlign methods have nothing to learn from: drop them before any rule
# reads the method list.
config["pretrain"]["methods"], dropped = trainable_methods(config["pretrain"]["methods"], LABELS)
if dropped:
    leave_out(f"pretraining of {', '.join(dropped)}", LABELS.reason("class"))
if not config["pretrain"]["methods"]:
    print(f"config error: pretrain.methods lists only {', '.join(dropped)}, which learn from classes, but this run "
          f"has {LABELS.reason('class')}; add a self-supervised method such as simclr, moco or mae", file=sys.stderr)
    sys.exit(1)


def uses_mock_sky():
    """True when the catalogue or any survey comes from the built-in mock sky."""
    return config["catalog"]["source"] == "mock" or any(
        survey["provider"] == "mock" for survey in config["surveys"].values()
    )


def mock_settings_json():
    """The `mock` config section as canonical JSON; a change in it re-runs every mock rule."""
    return json.dumps(config["mock"], sort_keys=True)


wildcard_constraints:
    survey="|".join(sorted(config["surveys"])),
    shard=r"\d{5}",
    method="|".join(sorted(config["pretrain"]["methods"])),
    embedding="|".join(sorted(config_embedding_names(config))),


def catalog_input():
    """The catalogue the pipeline ingests: the mock sky's, or the user's file."""
    if config["catalog"]["source"] == "mock":
        return "results/mock/catalog.parquet"
    return config["catalog"]["path"]


def positions_optional():
    """True when every survey matches its images by object_id (provider files): the catalogue may leave out ra/dec."""
    return all(survey["provider"] == "files" for survey in config["surveys"].values())


def survey_json(survey):
    """One survey's config section as canonical JSON (a change re-runs that survey's ingest)."""
    return json.dumps(config["surveys"][survey], sort_keys=True)


def n_catalog_objects():
    """Number of catalogue rows, known before any job runs (so the shard scatter is fixed at DAG time)."""
    return N_OBJECTS


def shard_files(survey, kind):
    """Paths of every shard (kind='shards') or per-shard failures table (kind='failures') of a survey."""
    n_shards = -(-n_catalog_objects() // config["ingest"]["shard_size"])
    return [f"results/{survey}/{kind}/shard-{index:05d}.parquet" for index in range(n_shards)]


def labels_input():
    """The label table joined on object_id ([] when the run has no labels at all)."""
    return LABEL_TABLE or []


def has_labels(kind):
    """True when labels of `kind` (class, redshift, votes) are named in `labels` and present in the label table."""
    return LABELS.has(kind)


def label_columns():
    """The resolved label column names: class, class_names, redshift, votes (list), extra (list)."""
    return {"class": LABELS.class_column, "class_names": LABELS.class_names, "redshift": LABELS.redshift_column,
            "votes": list(LABELS.vote_columns), "extra": list(LABELS.extra_columns)}


def labels_json():
    """The resolved labels as JSON for a CLI's --labels-config (a change re-runs the rules that read labels)."""
    return LABELS.to_json()


def output_dir(wildcards, output):
    """The folder of a rule's outputs, for a CLI's --out-dir (a params function: the path is not written twice)."""
    return os.path.dirname(output[0])


def labels_option(wildcards, input):
    """`--labels FILE` when the run has a label table, else nothing (a params function: input.labels may be [])."""
    return f"--labels {input.labels}" if input.labels else ""


# Each stage's .smk file appends a function returning its final outputs; `rule all` asks for all of them.
STAGE_TARGETS = []


def embedding_names():
    """Embeddings the downstream stages evaluate (galssl.config.embedding_names)."""
    return config_embedding_names(config)


def all_targets():
    """Final outputs of the default DAG (`snakemake all`); prints one line per stage left out and why."""
    targets = pretrain_targets()
    for stage_targets in STAGE_TARGETS:
        targets += stage_targets()
    if workflow.is_main_process:  # not again inside each job of a cluster run
        for stage, reason in LEFT_OUT.items():
            print(f"galssl: {stage} left out: {reason}", file=sys.stderr)
    return targets


def pretrain_targets():
    """Outputs of the mock sky, ingest, pretraining and embedding stages."""
    targets = []
    if uses_mock_sky():
        targets += [
            "results/mock/catalog.parquet",
            "results/mock/labels.parquet",
            "results/mock/gallery.png",
        ]
    methods = config["pretrain"]["methods"]
    for survey in config["surveys"]:
        targets += [f"results/{survey}/manifest.json", f"results/{survey}/failures.parquet"]
        if methods:
            targets.append(f"results/{survey}/augmentations.png")
        for method in methods:
            targets += [
                f"results/{survey}/{method}/encoder.ckpt",
                f"results/{survey}/{method}/embeddings.parquet",
                f"results/{survey}/{method}/training_curves.png",
            ]
        if "mae" in methods:
            targets.append(f"results/{survey}/mae/reconstructions.png")
        targets += [f"results/{survey}/{name}/embeddings.parquet" for name in embedding_names() if name not in methods]
    return targets


# Each stage's helpers (config -> params, inputs and target lists) are in common/<stage>.smk, so that a rule file
# holds only rules (`snakemake --lint`); included here, before any rule file uses them.
include: "common/ingest.smk"
include: "common/pretrain.smk"
include: "common/embed.smk"
include: "common/search.smk"
include: "common/probes.smk"
include: "common/photoz.smk"
include: "common/baseline.smk"
include: "common/labels_needed.smk"
include: "common/finetune.smk"
include: "common/galaxalign.smk"
include: "common/metrics.smk"
include: "common/maps.smk"
include: "common/explorer.smk"
