"""Representation maps: what an embedding contains and how it is laid out.

- :mod:`~galssl.maps.pca`: principal components, explained variance, each component's extreme galaxies;
- :mod:`~galssl.maps.sae`: a Matryoshka BatchTopK sparse autoencoder (sparse codes at inference);
- :mod:`~galssl.maps.align`: Spearman ρ of features with Galaxy Zoo vote fractions and redshift;
- :mod:`~galssl.maps.umap`: UMAP layouts and the thumbnail map's cells;
- :mod:`~galssl.maps.stationarity`: galaxies under rotation, jitter and noise, tracked in pixel and embedding maps;
- :mod:`~galssl.maps.run_features`, :mod:`~galssl.maps.run_umap`: the stages the ``galssl maps-*`` verbs run.
"""
