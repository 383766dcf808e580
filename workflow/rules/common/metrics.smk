# Helpers of metrics.smk, included by common.smk: every stage's metric tables, the survey-wide tables.


def survey_metric_tables(survey):
    """Paths of every metrics table the downstream stages write for one survey."""
    tables = []
    for stage_tables in (probes_metric_tables, photoz_metric_tables, search_metric_tables, maps_metric_tables,
                         finetune_metric_tables, zero_shot_metric_tables):
        tables += stage_tables(survey)
    if scratch_targets():
        tables.append(f"results/{survey}/supervised_from_scratch/label_efficiency.parquet")
    return tables


def metrics_targets():
    """The survey-wide metrics tables."""
    return [f"results/{survey}/metrics.{ext}" for survey in config["surveys"] for ext in ("parquet", "csv", "html")]
