# GalaxAlign (image-text-symbol alignment): the class symbols, and zero-shot classification by text prompts of every
# GalaxAlign method in pretrain.methods (galaxalign and its ablations). Training and embeddings are the ordinary
# pretrain and embed rules; probes, label efficiency, photo-z, search and maps take the embeddings like any other.
# Its helper functions (config -> params, inputs and targets) are in common/galaxalign.smk.


rule galaxalign_symbols:
    output:
        symbols=expand("results/symbols/{name}.png", name=GALAXALIGN_SYMBOL_CLASSES),
        overview=report(
            "results/symbols/overview.png",
            caption="../report/galaxalign_symbols.rst",
            category="GalaxAlign",
            labels={"figure": "class symbols"},
        ),
    params:
        classes=" ".join(GALAXALIGN_SYMBOL_CLASSES),
        out_dir=output_dir,
    log:
        "logs/galaxalign/symbols.log",
    benchmark:
        "logs/benchmarks/galaxalign/symbols.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl draw-symbols --out-dir {params.out_dir} --overview {output.overview} --classes {params.classes}"
        " > {log} 2>&1"


rule zero_shot:
    input:
        ckpt="results/{survey}/{method}/encoder.ckpt",
        embeddings="results/{survey}/{method}/embeddings.parquet",
        catalog="results/catalog/catalog.parquet",
        labels=labels_input(),
    output:
        metrics="results/{survey}/{method}/zero_shot/metrics.parquet",
        predictions="results/{survey}/{method}/zero_shot/predictions.parquet",
        similarity="results/{survey}/{method}/zero_shot/similarity.parquet",
        summary="results/{survey}/{method}/zero_shot/summary.json",
    wildcard_constraints:
        method="|".join(galaxalign_methods()) or "(?!)",
    params:
        class_column=LABELS.class_column,
        seed=config["seed"],
    log:
        "logs/galaxalign/{survey}.{method}.zero_shot.log",
    benchmark:
        "logs/benchmarks/galaxalign/{survey}.{method}.zero_shot.tsv"
    threads: 1
    resources:
        mem_mb=3000,
        runtime=15,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl zero-shot --ckpt {input.ckpt} --embeddings {input.embeddings} --catalog {input.catalog}"
        " --labels {input.labels} --class-column {params.class_column} --method {wildcards.method}"
        " --seed {params.seed} --threads {threads} --metrics-out {output.metrics}"
        " --predictions-out {output.predictions} --similarity-out {output.similarity}"
        " --summary-out {output.summary} > {log} 2>&1"


rule zero_shot_figures:
    input:
        predictions="results/{survey}/{method}/zero_shot/predictions.parquet",
        similarity="results/{survey}/{method}/zero_shot/similarity.parquet",
        summary="results/{survey}/{method}/zero_shot/summary.json",
    output:
        confusion=report(
            "results/{survey}/{method}/zero_shot/confusion.png",
            caption="../report/galaxalign_zero_shot.rst",
            category="GalaxAlign",
            subcategory="{survey}",
            labels={"survey": "{survey}", "method": "{method}", "figure": "zero-shot confusion"},
        ),
        similarity=report(
            "results/{survey}/{method}/zero_shot/similarity.png",
            caption="../report/galaxalign_similarity.rst",
            category="GalaxAlign",
            subcategory="{survey}",
            labels={"survey": "{survey}", "method": "{method}", "figure": "image-text similarity"},
        ),
    wildcard_constraints:
        method="|".join(galaxalign_methods()) or "(?!)",
    log:
        "logs/galaxalign/{survey}.{method}.zero_shot_figures.log",
    benchmark:
        "logs/benchmarks/galaxalign/{survey}.{method}.zero_shot_figures.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    conda:
        "../../envs/torch.yaml"
    shell:
        "galssl plot-zero-shot --predictions {input.predictions} --similarity {input.similarity}"
        " --summary {input.summary} --title '{wildcards.survey} / {wildcards.method}'"
        " --confusion-out {output.confusion} --similarity-out {output.similarity} > {log} 2>&1"


STAGE_TARGETS.append(galaxalign_targets)
