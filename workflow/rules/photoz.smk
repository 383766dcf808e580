# Photometric redshifts from frozen embeddings, per survey x embedding: a classifier over redshift bins, its
# metrics at several training-set sizes, the z_phot vs z_spec / PIT figure, and one metrics-vs-size figure per survey.


def photoz_json():
    """The `photoz` config section as canonical JSON (a change re-runs the photo-z rules)."""
    return json.dumps(config["photoz"], sort_keys=True)


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
        "benchmarks/rules/photoz/{survey}.{embedding}.tsv"
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
        "benchmarks/rules/photoz/{survey}.{embedding}.figure.tsv"
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
        "benchmarks/rules/photoz/{survey}.fraction_figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-photoz-fraction --tables {input} --title '{wildcards.survey}: photo-z vs training-set size'"
        " --out {output} > {log} 2>&1"


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


STAGE_TARGETS.append(photoz_targets)
