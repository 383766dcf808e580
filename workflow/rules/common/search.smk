# Helpers of search.smk, included by common.smk: the search config, metric tables, targets.


def search_json():
    """The `search` config section as canonical JSON (a change re-runs the search rules)."""
    return json.dumps(config["search"], sort_keys=True)


def search_has_classes():
    """True when retrieval can be scored: the run has a class column (labels.class_column)."""
    return has_labels("class")


def search_metric_tables(survey):
    """Tidy metric tables of the search stage for one survey (map@k, map per embedding; none without classes)."""
    if not search_has_classes():
        return []
    return [f"results/{survey}/{embedding}/search/metrics.parquet" for embedding in embedding_names()]


def search_targets():
    """Final outputs of the search stage: index, metrics and figure per survey x embedding."""
    if not search_has_classes():
        leave_out("search mAP", LABELS.reason("class"))
    targets = []
    for survey in config["surveys"]:
        for embedding in embedding_names():
            targets += [
                f"results/{survey}/{embedding}/search/index.faiss",
                f"results/{survey}/{embedding}/search/similarity.png",
            ]
        targets += search_metric_tables(survey)
    return targets
