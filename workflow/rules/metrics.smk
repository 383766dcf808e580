# One tidy metrics table per survey: every stage's metric rows (method, task, n_labels, seed, split, metric, value).
# Its helper functions (config -> params, inputs and targets) are in common/metrics.smk.


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
        "logs/benchmarks/metrics/{survey}.tsv"
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
        "logs/benchmarks/metrics/{survey}.page.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl metrics-page --table {input} --title 'galssl metrics: {wildcards.survey}' --out {output} > {log} 2>&1"
