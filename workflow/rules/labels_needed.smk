# How many labels each method needs to reach the supervised baseline's full-data score, per survey: from every
# embedding's label-efficiency curves and the supervised-from-scratch curve (whose largest-N point is the target).
# Its helper functions (config -> params, inputs and targets) are in common/labels_needed.smk.


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
        "logs/benchmarks/probes/{survey}.labels_needed.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl labels-needed --tables {input} --reference supervised_from_scratch --out {output.parquet}"
        " --csv {output.csv} > {log} 2>&1"
