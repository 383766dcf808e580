# Helpers of finetune.smk, included by common.smk: slots, tasks, inputs, options, metric tables, targets.

from galssl.finetune.settings import FinetuneSettings


def finetune_settings():
    """`finetune` as its dataclass (validated with the rest of the config in common.smk)."""
    return FinetuneSettings.from_section(config["finetune"])


def finetune_slots():
    """Encoder slots fine-tuned: `best` and/or method names, those that were trained."""
    return finetune_settings().slots(config["pretrain"]["methods"])


def finetune_candidates():
    """The trained self-supervised methods `best` chooses among."""
    return FinetuneSettings.candidates(config["pretrain"]["methods"])


def finetune_ckpts(wildcards):
    """encoder.ckpt of the slot's method (slot best: of every candidate; the choice JSON says which)."""
    methods = finetune_candidates() if wildcards.slot == "best" else [wildcards.slot]
    return [f"results/{wildcards.survey}/{method}/encoder.ckpt" for method in methods]


def finetune_choice(wildcards):
    """The choice JSON for slot best; nothing for a named method."""
    return [f"results/{wildcards.survey}/finetune/best/choice.json"] if wildcards.slot == "best" else []


def finetune_job_json():
    """The finetune keys one job reads (not which methods or tasks run: adding one reruns nothing else)."""
    keys = ("methods", "tasks", "select_probe")
    return json.dumps({k: v for k, v in config["finetune"].items() if k not in keys}, sort_keys=True)


def finetune_photoz_json(wildcards):
    """The photoz keys that define the head and its targets, for the photoz task ('{}' for the classes)."""
    keys = ("n_bins", "z_min", "z_max", "hidden_units", "target_smoothing_bins")
    return json.dumps({k: config["photoz"][k] for k in keys} if wildcards.task == "photoz" else {}, sort_keys=True)


def finetune_tasks():
    """The tasks of finetune.tasks the run's labels allow (none without classes: `best` is chosen by the class
    probes; photoz needs redshifts)."""
    if not has_labels("class"):
        return []
    return [task for task in config["finetune"]["tasks"] if task != "photoz" or has_labels("redshift")]


def finetune_label_options(wildcards):
    """The label column the task reads, as its CLI option."""
    if wildcards.task == "photoz":
        return f"--redshift-column {LABELS.redshift_column}"
    return f"--class-column {LABELS.class_column}"


def finetune_tables(survey):
    """Tidy metric tables of every fine-tuning job of one survey."""
    return [
        f"results/{survey}/finetune/{slot}/{task}/metrics.parquet"
        for slot in finetune_slots()
        for task in finetune_tasks()
    ]


def finetune_metric_tables(survey):
    """The survey's gathered fine-tuning table, when anything is fine-tuned (read by metrics.smk)."""
    return [f"results/{survey}/finetune/metrics.parquet"] if finetune_slots() and finetune_tasks() else []


def finetune_targets():
    """Final outputs of the fine-tuning stage: the gathered metrics and every figure."""
    if not has_labels("class"):
        leave_out("fine-tuning", LABELS.reason("class"))
    elif "photoz" in config["finetune"]["tasks"] and not has_labels("redshift"):
        leave_out("fine-tuning on photo-z", LABELS.reason("redshift"))
    tasks = finetune_tasks()
    targets = []
    for survey in config["surveys"]:
        targets += finetune_metric_tables(survey)
        for slot in finetune_slots():
            targets += [f"results/{survey}/finetune/{slot}/{task}/training_curves.png" for task in tasks]
            if "photoz" in tasks:
                targets.append(f"results/{survey}/finetune/{slot}/photoz/photoz.png")
            if "classes" in tasks:
                targets.append(f"results/{survey}/finetune/{slot}/classes/confusion.png")
    return targets
