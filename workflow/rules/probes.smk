# Morphology probes on frozen embeddings, per survey x embedding: class probes (logistic regression, kNN, MLP) and
# one soft-label probe per Galaxy Zoo question; label-efficiency curves (probes refitted on N = 2^k labels).


SCRATCH_KEYS = ("supervised_from_scratch", "scratch_seeds", "scratch_steps")


def probes_json(stage):
    """The part of the `probes` config section one stage reads, as canonical JSON, so that a change re-runs only the
    rules that read it: `probes` leaves out label_efficiency, `label_efficiency` leaves out the from-scratch keys
    (baseline.smk reads those). Settings left out take their defaults, which that stage does not use."""
    section = {key: value for key, value in config["probes"].items() if key != "label_efficiency"}
    if stage == "label_efficiency":
        section["label_efficiency"] = {key: value for key, value in config["probes"]["label_efficiency"].items()
                                       if key not in SCRATCH_KEYS}
    return json.dumps(section, sort_keys=True)


def label_efficiency_tables(survey):
    """Label-efficiency tables drawn in one figure: every embedding, plus the from-scratch baseline when it runs."""
    tables = [f"results/{survey}/{embedding}/label_efficiency.parquet" for embedding in embedding_names()]
    scratch_targets = globals().get("scratch_targets")  # workflow/rules/baseline.smk, when included
    if scratch_targets is not None and scratch_targets():
        tables.append(f"results/{survey}/supervised_from_scratch/label_efficiency.parquet")
    return tables


rule probes:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
    output:
        metrics="results/{survey}/{embedding}/probes/metrics.parquet",
        classes="results/{survey}/{embedding}/probes/class_predictions.parquet",
        votes="results/{survey}/{embedding}/probes/vote_predictions.parquet",
    params:
        probes=probes_json("probes"),
        labels=labels_json(),
        seed=config["seed"],
    log:
        "logs/probes/{survey}.{embedding}.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.{embedding}.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl probes --embeddings {input.embeddings} --catalog {input.catalog} --labels {input.labels}"
        " --method {wildcards.embedding} --probes {params.probes:q} --labels-config {params.labels:q}"
        " --seed {params.seed} --threads {threads} --metrics-out {output.metrics}"
        " --class-predictions-out {output.classes}"
        " --vote-predictions-out {output.votes} > {log} 2>&1"


rule probe_confusion:
    input:
        predictions="results/{survey}/{embedding}/probes/class_predictions.parquet",
        labels=labels_input(),
    output:
        report(
            "results/{survey}/{embedding}/probes/confusion.png",
            caption="../report/probes_confusion.rst",
            category="Probes",
            subcategory="{survey}",
            labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "confusion"},
        ),
    params:
        labels=labels_json(),
    log:
        "logs/probes/{survey}.{embedding}.confusion.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.{embedding}.confusion.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-confusion --predictions {input.predictions} --labels {input.labels}"
        " --labels-config {params.labels:q} --title '{wildcards.survey} / {wildcards.embedding}'"
        " --out {output} > {log} 2>&1"


rule probe_vote_fractions:
    input:
        "results/{survey}/{embedding}/probes/vote_predictions.parquet",
    output:
        report(
            "results/{survey}/{embedding}/probes/vote_fractions.png",
            caption="../report/probes_vote_fractions.rst",
            category="Probes",
            subcategory="{survey}",
            labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "vote fractions"},
        ),
    log:
        "logs/probes/{survey}.{embedding}.vote_fractions.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.{embedding}.vote_fractions.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-vote-fractions --predictions {input} --title '{wildcards.survey} / {wildcards.embedding}'"
        " --out {output} > {log} 2>&1"


rule label_efficiency:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
    output:
        "results/{survey}/{embedding}/label_efficiency.parquet",
    params:
        probes=probes_json("label_efficiency"),
        labels=labels_json(),
        seed=config["seed"],
    log:
        "logs/probes/{survey}.{embedding}.label_efficiency.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.{embedding}.label_efficiency.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl label-efficiency --embeddings {input.embeddings} --catalog {input.catalog} --labels {input.labels}"
        " --method {wildcards.embedding} --probes {params.probes:q} --labels-config {params.labels:q}"
        " --seed {params.seed} --threads {threads} --out {output} > {log} 2>&1"


rule label_efficiency_figure:
    input:
        lambda w: label_efficiency_tables(w.survey),
    output:
        report(
            "results/{survey}/label_efficiency.png",
            caption="../report/label_efficiency.rst",
            category="Probes",
            subcategory="{survey}",
            labels={"survey": "{survey}", "figure": "label efficiency"},
        ),
    log:
        "logs/probes/{survey}.label_efficiency_figure.log",
    benchmark:
        "benchmarks/rules/probes/{survey}.label_efficiency_figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-label-efficiency --tables {input} --title '{wildcards.survey}: label efficiency'"
        " --out {output} > {log} 2>&1"


def has_vote_probes():
    """The vote-fraction probes need the votes of a Galaxy Zoo tree (questions, answers, totals)."""
    return LABELS.vote_tree is not None


def probes_metric_tables(survey):
    """Tidy metric tables of the probe stage for one survey: probes (class and/or vote probes) and label efficiency
    (class probes) of every embedding; none of them without the labels they need."""
    tables = []
    for embedding in embedding_names():
        if has_labels("class") or has_vote_probes():
            tables.append(f"results/{survey}/{embedding}/probes/metrics.parquet")
        if has_labels("class"):
            tables.append(f"results/{survey}/{embedding}/label_efficiency.parquet")
    return tables


def probes_targets():
    """Final outputs of the probe stage: metrics and figures per survey x embedding, one label-efficiency figure."""
    if not has_labels("class"):
        leave_out("class probes (and their confusion matrices)", LABELS.reason("class"))
        leave_out("label efficiency", LABELS.reason("class"))
    if not has_vote_probes():
        reason = LABELS.reason("votes") or "labels.votes lists columns, not a Galaxy Zoo tree (gz2, gz_decals)"
        leave_out("vote-fraction probes", reason)
    targets = []
    for survey in config["surveys"]:
        targets += probes_metric_tables(survey)
        for embedding in embedding_names():
            if has_labels("class"):
                targets.append(f"results/{survey}/{embedding}/probes/confusion.png")
            if has_vote_probes():
                targets.append(f"results/{survey}/{embedding}/probes/vote_fractions.png")
        if has_labels("class"):
            targets.append(f"results/{survey}/label_efficiency.png")
    return targets


STAGE_TARGETS.append(probes_targets)
