# The static galaxy explorer per survey (results/{survey}/explorer/index.html, with its script, data and thumbnail
# sprite sheets beside it): the UMAP of one embedding (`explorer.embedding`) from the maps stage, the labels, the
# thumbnails and each galaxy's nearest neighbours (faiss), in a page that opens from file:// with no server.
# Its helper functions (config -> params, inputs and targets) are in common/explorer.smk.


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
        out_dir=output_dir,
    log:
        "logs/explorer/{survey}.log",
    benchmark:
        "logs/benchmarks/explorer/{survey}.tsv"
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


STAGE_TARGETS.append(explorer_targets)
