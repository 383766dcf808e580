"""galssl: self-supervised galaxy representations from sky catalogues, as a reproducible Snakemake pipeline."""

__version__ = "0.1.0"
