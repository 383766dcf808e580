# Morphology probes on frozen embeddings, per survey x embedding: class probes (logistic regression, kNN, MLP) and
# one soft-label probe per Galaxy Zoo question; label-efficiency curves (probes refitted on N = 2^k labels).
# Its helper functions (config -> params, inputs and targets) are in common/probes.smk.


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
        "logs/benchmarks/probes/{survey}.{embedding}.tsv"
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
        "logs/benchmarks/probes/{survey}.{embedding}.confusion.tsv"
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
        "logs/benchmarks/probes/{survey}.{embedding}.vote_fractions.tsv"
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
        "logs/benchmarks/probes/{survey}.{embedding}.label_efficiency.tsv"
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
        "logs/benchmarks/probes/{survey}.label_efficiency_figure.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-label-efficiency --tables {input} --title '{wildcards.survey}: label efficiency'"
        " --out {output} > {log} 2>&1"


STAGE_TARGETS.append(probes_targets)
