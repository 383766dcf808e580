# Helpers of probes.smk, included by common.smk: the config each probe stage reads, the tables they gather, targets.

SCRATCH_KEYS = ("supervised_from_scratch", "scratch_seeds", "scratch_steps")


def probes_json(stage):
    """The part of the `probes` config section one stage reads, as canonical JSON, so that a change re-runs only the
    rules that read it: `probes` leaves out label_efficiency, `label_efficiency` leaves out the from-scratch keys
    (baseline.smk reads those). Settings left out take their defaults, which that stage does not use."""
    section = {key: value for key, value in config["probes"].items() if key != "label_efficiency"}
    if stage == "label_efficiency":
        section["label_efficiency"] = {key: value for key, value in config["probes"]["label_efficiency"].items()
                                       if key not in SCRATCH_KEYS}
    return json.dumps(section, sort_keys=True)


def label_efficiency_tables(survey):
    """Label-efficiency tables drawn in one figure: every embedding, plus the from-scratch baseline when it runs."""
    tables = [f"results/{survey}/{embedding}/label_efficiency.parquet" for embedding in embedding_names()]
    if scratch_targets():  # common/baseline.smk
        tables.append(f"results/{survey}/supervised_from_scratch/label_efficiency.parquet")
    return tables


def has_vote_probes():
    """The vote-fraction probes need the votes of a Galaxy Zoo tree (questions, answers, totals)."""
    return LABELS.vote_tree is not None


def probes_metric_tables(survey):
    """Tidy metric tables of the probe stage for one survey: probes (class and/or vote probes) and label efficiency
    (class probes) of every embedding; none of them without the labels they need."""
    tables = []
    for embedding in embedding_names():
        if has_labels("class") or has_vote_probes():
            tables.append(f"results/{survey}/{embedding}/probes/metrics.parquet")
        if has_labels("class"):
            tables.append(f"results/{survey}/{embedding}/label_efficiency.parquet")
    return tables


def probes_targets():
    """Final outputs of the probe stage: metrics and figures per survey x embedding, one label-efficiency figure."""
    if not has_labels("class"):
        leave_out("class probes (and their confusion matrices)", LABELS.reason("class"))
        leave_out("label efficiency", LABELS.reason("class"))
    if not has_vote_probes():
        reason = LABELS.reason("votes") or "labels.votes lists columns, not a Galaxy Zoo tree (gz2, gz_decals)"
        leave_out("vote-fraction probes", reason)
    targets = []
    for survey in config["surveys"]:
        targets += probes_metric_tables(survey)
        for embedding in embedding_names():
            if has_labels("class"):
                targets.append(f"results/{survey}/{embedding}/probes/confusion.png")
            if has_vote_probes():
                targets.append(f"results/{survey}/{embedding}/probes/vote_fractions.png")
        if has_labels("class"):
            targets.append(f"results/{survey}/label_efficiency.png")
    return targets
