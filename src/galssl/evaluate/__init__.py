"""Downstream evaluation on frozen embeddings: metrics, morphology probes, label efficiency, photometric redshifts."""
