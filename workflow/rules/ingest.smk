# Catalogue → cutouts → reprojected Parquet shards. Scatter: one job per shard; gather: manifest + failures.
# Its helper functions (config -> params, inputs and targets) are in common/ingest.smk.


rule catalog:
    input:
        catalog_input(),
    output:
        "results/catalog/catalog.parquet",
    params:
        seed=config["seed"],
        catalog=json.dumps(config["catalog"], sort_keys=True),
        positions="--positions-optional" if positions_optional() else "",
    log:
        "logs/ingest/catalog.log",
    benchmark:
        "logs/benchmarks/ingest/catalog.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    shell:
        "galssl catalog --input {input} --out {output} --catalog {params.catalog:q} {params.positions}"
        " --seed {params.seed} > {log} 2>&1"


rule ingest_shard:
    input:
        catalog="results/catalog/catalog.parquet",
    output:
        shard="results/{survey}/shards/shard-{shard}.parquet",
        failures="results/{survey}/failures/shard-{shard}.parquet",
    params:
        seed=config["seed"],
        survey=lambda w: survey_json(w.survey),
        mock=mock_settings_json(),
        shard_size=config["ingest"]["shard_size"],
        reproject=config["ingest"]["reproject"],
        max_mask=config["ingest"]["max_mask_fraction"],
    log:
        "logs/ingest/{survey}.shard-{shard}.log",
    benchmark:
        "logs/benchmarks/ingest/{survey}.shard-{shard}.tsv"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../../envs/data.yaml"
    shell:
        "galssl ingest-shard --survey {wildcards.survey} --survey-config {params.survey:q} --mock {params.mock:q}"
        " --catalog {input.catalog} --shard {wildcards.shard} --shard-size {params.shard_size} --seed {params.seed}"
        " --reproject {params.reproject} --cache results/{wildcards.survey}/cache --threads {threads}"
        " --max-mask-fraction {params.max_mask} --out {output.shard} --failures {output.failures} > {log} 2>&1"


rule ingest_manifest:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        failures=lambda w: shard_files(w.survey, "failures"),
    output:
        manifest="results/{survey}/manifest.json",
        failures="results/{survey}/failures.parquet",
    params:
        seed=config["seed"],
        survey=lambda w: survey_json(w.survey),
        catalog=json.dumps(config["catalog"], sort_keys=True),
        reproject=config["ingest"]["reproject"],
        max_mask=config["ingest"]["max_mask_fraction"],
    log:
        "logs/ingest/{survey}.manifest.log",
    benchmark:
        "logs/benchmarks/ingest/{survey}.manifest.tsv"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    shell:
        "galssl ingest-manifest --survey {wildcards.survey} --survey-config {params.survey:q}"
        " --catalog-config {params.catalog:q} --seed {params.seed} --reproject {params.reproject}"
        " --max-mask-fraction {params.max_mask} --shards {input.shards} --failures {input.failures}"
        " --manifest-out {output.manifest} --failures-out {output.failures} > {log} 2>&1"


rule cutouts_figure:
    input:
        shards=lambda w: shard_files(w.survey, "shards"),
        manifest="results/{survey}/manifest.json",
        labels=labels_input(),
    output:
        report(
            "results/{survey}/cutouts.png",
            caption="../report/cutouts.rst",
            category="Data",
            subcategory="{survey}",
            labels={"survey": "{survey}", "figure": "cutouts"},
        ),
    params:
        seed=config["seed"],
        survey=lambda w: survey_json(w.survey),
        crop=lambda w: encoder_crop(w.survey),  # common/embed.smk: the pretraining crop, else the cutout size
        labels=labels_option,
        labels_config=labels_json(),
    log:
        "logs/ingest/{survey}.cutouts.log",
    benchmark:
        "logs/benchmarks/ingest/{survey}.cutouts.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../../envs/analysis.yaml"
    shell:
        "galssl plot-cutouts --shards {input.shards} --manifest {input.manifest} {params.labels}"
        " --labels-config {params.labels_config:q} --crop {params.crop} --survey {wildcards.survey}"
        " --survey-config {params.survey:q} --seed {params.seed} --out {output} > {log} 2>&1"


STAGE_TARGETS.append(ingest_figure_targets)
