# Helpers of photoz.smk, included by common.smk: the photo-z config, metric tables, targets.


def photoz_json():
    """The `photoz` config section as canonical JSON (a change re-runs the photo-z rules)."""
    return json.dumps(config["photoz"], sort_keys=True)


def photoz_metric_tables(survey):
    """Tidy metric tables of the photo-z stage for one survey (one per embedding; none without redshifts)."""
    if not has_labels("redshift"):
        return []
    return [f"results/{survey}/{embedding}/photoz/metrics.parquet" for embedding in embedding_names()]


def photoz_targets():
    """Final outputs of the photo-z stage: metrics and figure per survey x embedding, one metrics-vs-size figure."""
    if not has_labels("redshift"):
        leave_out("photo-z", LABELS.reason("redshift"))
        return []
    targets = []
    for survey in config["surveys"]:
        targets += photoz_metric_tables(survey)
        targets += [f"results/{survey}/{embedding}/photoz/photoz.png" for embedding in embedding_names()]
        targets.append(f"results/{survey}/photoz_vs_fraction.png")
    return targets
