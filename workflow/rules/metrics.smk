# One tidy metrics table per survey: every stage's metric rows (method, task, n_labels, seed, split, metric, value).


def survey_metric_tables(survey):
    """Paths of every metrics table the downstream stages write for one survey."""
    tables = []
    for stage_tables in (probes_metric_tables, photoz_metric_tables, search_metric_tables, maps_metric_tables):
        tables += stage_tables(survey)
    if scratch_targets():
        tables.append(f"results/{survey}/supervised_from_scratch/label_efficiency.parquet")
    return tables


def metrics_targets():
    """The survey-wide metrics tables."""
    return [f"results/{survey}/metrics.{ext}" for survey in config["surveys"] for ext in ("parquet", "csv")]


STAGE_TARGETS.append(metrics_targets)


rule metrics_table:
    input:
        lambda w: survey_metric_tables(w.survey),
    output:
        parquet="results/{survey}/metrics.parquet",
        csv="results/{survey}/metrics.csv",
    log:
        "logs/metrics/{survey}.log",
    benchmark:
        "benchmarks/rules/metrics/{survey}.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl concat-metrics --tables {input} --out {output.parquet} --csv {output.csv} > {log} 2>&1"
