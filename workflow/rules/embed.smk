# Embeddings of every object (all splits): from each trained encoder, from the pixel-PCA floor, and from external
# encoders named in `embed.external` (any timm model, optionally with local weights).
# Its helper functions (config -> params, inputs and targets) are in common/embed.smk.


rule embed:
    input:
        ckpt="results/{survey}/{embedding}/encoder.ckpt",
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        catalog="results/catalog/catalog.parquet",
    output:
        "results/{survey}/{embedding}/embeddings.parquet",
    wildcard_constraints:
        embedding="|".join(sorted(config_embedding_names(config, external=False))),
    params:
        batch_size=config["embed"]["batch_size"],
    log:
        "logs/embed/{survey}.{embedding}.log",
    benchmark:
        "logs/benchmarks/embed/{survey}.{embedding}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl embed --ckpt {input.ckpt} --shards {input.shards} --manifest {input.manifest}"
        " --catalog {input.catalog} --out {output} --batch-size {params.batch_size} --threads {threads} > {log} 2>&1"


rule pixels_pca:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        "results/{survey}/pixels_pca/encoder.ckpt",
    params:
        seed=config["seed"],
        crop=lambda w: encoder_crop(w.survey),
        n_components=config["embed"]["pixels_pca"]["n_components"],
    log:
        "logs/embed/{survey}.pixels_pca.fit.log",
    benchmark:
        "logs/benchmarks/embed/{survey}.pixels_pca.fit.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl fit-pixel-pca --shards {input.shards} --manifest {input.manifest} --crop {params.crop}"
        " --n-components {params.n_components} --survey {wildcards.survey} --seed {params.seed}"
        " --out {output} --threads {threads} > {log} 2>&1"


rule embed_external:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        catalog="results/catalog/catalog.parquet",
        weights=lambda w: config["embed"]["external"][w.embedding].get("weights") or [],
    output:
        "results/{survey}/{embedding}/embeddings.parquet",
    wildcard_constraints:
        embedding="|".join(sorted(config["embed"]["external"])) or "(?!)",
    params:
        timm=lambda w: config["embed"]["external"][w.embedding]["timm"],
        weights=lambda w: external_option(w.embedding, "weights", "--weights"),
        crop=lambda w: external_option(w.embedding, "crop", "--crop"),
        batch_size=config["embed"]["batch_size"],
    log:
        "logs/embed/{survey}.{embedding}.log",
    benchmark:
        "logs/benchmarks/embed/{survey}.{embedding}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl embed --timm {params.timm} {params.weights} {params.crop} --name {wildcards.embedding}"
        " --shards {input.shards} --manifest {input.manifest} --catalog {input.catalog} --out {output}"
        " --batch-size {params.batch_size} --threads {threads} > {log} 2>&1"
