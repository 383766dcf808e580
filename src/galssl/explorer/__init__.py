"""The static galaxy explorer: an interactive UMAP of one embedding, with thumbnails, labels and nearest neighbours,
that opens from a file with no server (results/{survey}/explorer/index.html)."""
