# The built-in mock sky: its catalogue with truth and Galaxy Zoo labels, and a gallery figure.


rule mock_catalog:
    output:
        catalog="results/mock/catalog.parquet",
        labels="results/mock/labels.parquet",
    params:
        seed=config["seed"],
        mock=mock_settings_json(),
    log:
        "logs/mocksky/mock_catalog.log",
    benchmark:
        "logs/benchmarks/mocksky/mock_catalog.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=30,
    conda:
        "../../envs/data.yaml"
    shell:
        "galssl mock-catalog --seed {params.seed} --mock {params.mock:q}"
        " --catalog-out {output.catalog} --labels-out {output.labels} > {log} 2>&1"


rule mock_gallery:
    output:
        report(
            "results/mock/gallery.png",
            caption="../report/mock_gallery.rst",
            category="Data",
            labels={"figure": "gallery"},
        ),
    params:
        seed=config["seed"],
        mock=mock_settings_json(),
    log:
        "logs/mocksky/mock_gallery.log",
    benchmark:
        "logs/benchmarks/mocksky/mock_gallery.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../../envs/data.yaml"
    shell:
        "galssl mock-gallery --seed {params.seed} --mock {params.mock:q} --out {output} > {log} 2>&1"
