# One tidy metrics table per survey: every stage's metric rows (method, task, n_labels, seed, split, metric, value).


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


rule metrics_page:
    input:
        "results/{survey}/metrics.parquet",
    output:
        report(
            "results/{survey}/metrics.html",
            caption="../report/metrics.rst",
            category="Metrics",
            subcategory="{survey}",
            labels={"survey": "{survey}", "figure": "metrics table"},
        ),
    log:
        "logs/metrics/{survey}.page.log",
    benchmark:
        "benchmarks/rules/metrics/{survey}.page.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl metrics-page --table {input} --title 'galssl metrics: {wildcards.survey}' --out {output} > {log} 2>&1"
