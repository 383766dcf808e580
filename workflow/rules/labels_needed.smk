# How many labels each method needs to reach the supervised baseline's full-data score, per survey: from every
# embedding's label-efficiency curves and the supervised-from-scratch curve (whose largest-N point is the target).


def labels_needed_targets():
    """results/{survey}/labels_needed.{parquet,csv}, when the from-scratch baseline (the target) runs."""
    if not scratch_targets():
        if not has_labels("class"):
            leave_out("labels-needed table", LABELS.reason("class"))
        return []
    return [f"results/{survey}/labels_needed.{ext}" for survey in config["surveys"] for ext in ("parquet", "csv")]


STAGE_TARGETS.append(labels_needed_targets)


rule labels_needed:
    input:
        lambda w: label_efficiency_tables(w.survey),
    output:
        parquet="results/{survey}/labels_needed.parquet",
        csv="results/{survey}/labels_needed.csv",
    log:
        "logs/probes/{survey}.labels_needed.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.labels_needed.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl labels-needed --tables {input} --reference supervised_from_scratch --out {output.parquet}"
        " --csv {output.csv} > {log} 2>&1"
