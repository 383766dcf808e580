# Helpers of labels_needed.smk, included by common.smk: the targets.


def labels_needed_targets():
    """results/{survey}/labels_needed.{parquet,csv}, when the from-scratch baseline (the target) runs."""
    if not scratch_targets():
        if not has_labels("class"):
            leave_out("labels-needed table", LABELS.reason("class"))
        return []
    return [f"results/{survey}/labels_needed.{ext}" for survey in config["surveys"] for ext in ("parquet", "csv")]
