"""Fine-tuning a pretrained encoder with a head: Galaxy10 classes (cross-entropy) and photometric redshifts (the
photo-z stage's binned classifier), encoder learning rate a fixed fraction of the head's; model selection on val,
numbers on test. Modules: ``settings`` (config), ``choose`` (the "best" method from the probe tables), ``tasks``
(labels, heads, losses, scores), ``module`` (the Lightning module), ``run`` (one fine-tuning job end to end)."""
