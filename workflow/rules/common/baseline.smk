# Helpers of baseline.smk, included by common.smk: label counts, seeds, training budget, targets.


def scratch_settings():
    """`probes.label_efficiency` with the from-scratch keys (see the schema)."""
    return config["probes"]["label_efficiency"]


def scratch_sizes():
    """N = 2^min_log2 .. 2^max_log2 (a size above the labelled train count trains on all of them)."""
    settings = scratch_settings()
    return [2**k for k in range(settings["min_log2"], settings["max_log2"] + 1)]


def scratch_seeds():
    """Subset seeds: the config seed plus each replicate (as the probes' label-efficiency runs)."""
    settings = scratch_settings()
    return [config["seed"] + replicate for replicate in range(min(settings["scratch_seeds"], settings["seeds"]))]


def scratch_pretrain_json(n_labels):
    """The pretrain section for N labels: the same optimisation budget (steps) as the full supervised run, so small
    N repeats many short epochs; validation about three times per run; no online probe (the head is scored)."""
    section = json.loads(method_pretrain_json("supervised"))  # no method list: adding a method retrains nothing here
    batch = int(section["batch_size"])
    n_train = int(n_catalog_objects() * config["catalog"]["split"]["train"])
    budget = scratch_settings()["scratch_steps"] or int(section["epochs"]) * -(-n_train // batch)
    steps_per_epoch = max(1, -(-min(n_labels, n_train) // batch))
    epochs = max(1, -(-budget // steps_per_epoch))
    section.update(epochs=epochs, val_every_n_epochs=max(1, epochs // 3), online_probe=False,
                   warmup_epochs=min(float(section["warmup_epochs"]), 0.1 * epochs))
    return json.dumps(section, sort_keys=True)


def scratch_targets():
    """Every (survey, N, seed) score table of the from-scratch baseline, when it is switched on (and has classes)."""
    if not has_labels("class"):
        leave_out("supervised-from-scratch baseline", LABELS.reason("class"))
        return []
    if "supervised" not in config["pretrain"]["methods"] or not scratch_settings()["supervised_from_scratch"]:
        return []
    return [
        f"results/{survey}/supervised_from_scratch/label_efficiency.parquet" for survey in config["surveys"]
    ]
