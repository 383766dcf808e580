# Embeddings of every object (all splits) from each trained encoder.


rule embed:
    input:
        ckpt="results/{survey}/{method}/encoder.ckpt",
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
    output:
        "results/{survey}/{method}/embeddings.parquet",
    log:
        "logs/embed/{survey}.{method}.log",
    benchmark:
        "benchmarks/rules/embed/{survey}.{method}.tsv"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=60,
        gpu=1,
    shell:
        "galssl embed --ckpt {input.ckpt} --shards {input.shards} --manifest {input.manifest}"
        " --out {output} --threads {threads} > {log} 2>&1"
