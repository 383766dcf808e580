# The static galaxy explorer per survey (results/{survey}/explorer/index.html, with its script, data and thumbnail
# sprite sheets beside it): the UMAP of one embedding (`explorer.embedding`) from the maps stage, the labels, the
# thumbnails and each galaxy's nearest neighbours (faiss), in a page that opens from file:// with no server.


def explorer_json():
    """The `explorer` config section as canonical JSON (a change rebuilds the explorer)."""
    return json.dumps(config["explorer"], sort_keys=True)


def explorer_embedding():
    """The embedding the explorer shows (validated against embedding_names() with the config)."""
    from galssl.explorer.settings import ExplorerSettings

    return ExplorerSettings.from_section(config["explorer"], embedding_names()).embedding_from(embedding_names())


rule explorer:
    input:
        umap=lambda w: f"results/{w.survey}/{explorer_embedding()}/maps/umap.parquet",
        embeddings=lambda w: f"results/{w.survey}/{explorer_embedding()}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        "results/{survey}/explorer/index.html",
    params:
        explorer=explorer_json(),
        search=search_json(),
        labels=labels_option,
        labels_config=labels_json(),
        survey=lambda w: survey_json(w.survey),
        embedding=explorer_embedding(),
        seed=config["seed"],
        out_dir="results/{survey}/explorer",
    log:
        "logs/explorer/{survey}.log",
    benchmark:
        "benchmarks/rules/explorer/{survey}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl explorer --umap {input.umap} --embeddings {input.embeddings} --catalog {input.catalog}"
        " {params.labels} --shards {input.shards} --manifest {input.manifest} --explorer {params.explorer:q}"
        " --labels-config {params.labels_config:q}"
        " --search {params.search:q} --survey-config {params.survey:q} --survey {wildcards.survey}"
        " --embedding {params.embedding} --seed {params.seed} --threads {threads} --out-dir {params.out_dir}"
        " > {log} 2>&1"


def explorer_targets():
    """Final outputs of the explorer stage: one explorer per survey."""
    return [f"results/{survey}/explorer/index.html" for survey in config["surveys"]]


STAGE_TARGETS.append(explorer_targets)
