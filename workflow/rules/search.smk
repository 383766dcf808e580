# Similarity search per survey x embedding: a faiss index of the L2-normalised embeddings, retrieval mAP@k / mAP on
# the test split (relevant = same class), and a figure of query galaxies with their nearest neighbours.
# Its helper functions (config -> params, inputs and targets) are in common/search.smk.


rule search_index:
    input:
        "results/{survey}/{embedding}/embeddings.parquet",
    output:
        index="results/{survey}/{embedding}/search/index.faiss",
        ids="results/{survey}/{embedding}/search/index.ids.parquet",
    params:
        search=search_json(),
        seed=config["seed"],
    log:
        "logs/search/{survey}.{embedding}.index.log",
    benchmark:
        "logs/benchmarks/search/{survey}.{embedding}.index.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl search-index --embeddings {input} --out {output.index} --search {params.search:q}"
        " --seed {params.seed} --threads {threads} > {log} 2>&1"


rule search_metrics:
    input:
        embeddings="results/{survey}/{embedding}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
    output:
        "results/{survey}/{embedding}/search/metrics.parquet",
    params:
        search=search_json(),
        labels=labels_json(),
        seed=config["seed"],
    log:
        "logs/search/{survey}.{embedding}.metrics.log",
    benchmark:
        "logs/benchmarks/search/{survey}.{embedding}.metrics.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl search-eval --embeddings {input.embeddings} --catalog {input.catalog} --labels {input.labels}"
        " --method {wildcards.embedding} --search {params.search:q} --labels-config {params.labels:q}"
        " --seed {params.seed} --out {output} > {log} 2>&1"


rule search_figure:
    input:
        index="results/{survey}/{embedding}/search/index.faiss",
        ids="results/{survey}/{embedding}/search/index.ids.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        report(
            "results/{survey}/{embedding}/search/similarity.png",
            caption="../report/search.rst",
            category="Similarity search",
            subcategory="{survey}",
            labels={"survey": "{survey}", "embedding": "{embedding}", "figure": "similarity"},
        ),
    params:
        survey=lambda w: survey_json(w.survey),
        search=search_json(),
        seed=config["seed"],
        labels=labels_option,
        labels_config=labels_json(),
    log:
        "logs/search/{survey}.{embedding}.figure.log",
    benchmark:
        "logs/benchmarks/search/{survey}.{embedding}.figure.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-search --index {input.index} --catalog {input.catalog} {params.labels} --shards {input.shards}"
        " --manifest {input.manifest} --survey-config {params.survey:q} --search {params.search:q}"
        " --labels-config {params.labels_config:q} --seed {params.seed}"
        " --title '{wildcards.survey} / {wildcards.embedding}' --out {output} > {log} 2>&1"


STAGE_TARGETS.append(search_targets)
