# Photometric redshifts from frozen embeddings, per survey x embedding: a classifier over redshift bins, its
# metrics at several training-set sizes, the z_phot vs z_spec / PIT figure, and one metrics-vs-size figure per survey.
# Its helper functions (config -> params, inputs and targets) are in common/photoz.smk.


rule photoz:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
    output:
        metrics="results/{survey}/{embedding}/photoz/metrics.parquet",
        predictions="results/{survey}/{embedding}/photoz/predictions.parquet",
    params:
        photoz=photoz_json(),
        labels=labels_json(),
        seed=config["seed"],
    log:
        "logs/photoz/{survey}.{embedding}.log",
    benchmark:
        "logs/benchmarks/photoz/{survey}.{embedding}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl photoz --embeddings {input.embeddings} --catalog {input.catalog} --labels {input.labels}"
        " --method {wildcards.embedding} --photoz {params.photoz:q} --labels-config {params.labels:q}"
        " --seed {params.seed} --threads {threads}"
        " --metrics-out {output.metrics} --predictions-out {output.predictions} > {log} 2>&1"


rule photoz_figure:
    input:
        "results/{survey}/{embedding}/photoz/predictions.parquet",
    output:
        report(
            "results/{survey}/{embedding}/photoz/photoz.png",
            caption="../report/photoz.rst",
            category="Photometric redshifts",
            subcategory="{survey}",
            labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "photoz"},
        ),
    params:
        photoz=photoz_json(),
    log:
        "logs/photoz/{survey}.{embedding}.figure.log",
    benchmark:
        "logs/benchmarks/photoz/{survey}.{embedding}.figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-photoz --predictions {input} --photoz {params.photoz:q}"
        " --title '{wildcards.survey} / {wildcards.embedding}: photometric redshifts (test split)' --out {output} > {log} 2>&1"


rule photoz_fraction_figure:
    input:
        lambda w: photoz_metric_tables(w.survey),
    output:
        report(
            "results/{survey}/photoz_vs_fraction.png",
            caption="../report/photoz_vs_fraction.rst",
            category="Photometric redshifts",
            subcategory="{survey}",
            labels={"survey": "{survey}", "figure": "photoz vs fraction"},
        ),
    log:
        "logs/photoz/{survey}.fraction_figure.log",
    benchmark:
        "logs/benchmarks/photoz/{survey}.fraction_figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-photoz-fraction --tables {input} --title '{wildcards.survey}: photo-z vs training-set size'"
        " --out {output} > {log} 2>&1"


STAGE_TARGETS.append(photoz_targets)
