# galssl: sky catalogue -> survey cutouts -> self-supervised galaxy representations -> science figures.
# This file only wires things together; the rules live in workflow/rules/*.smk.


# The default (offline, mock sky) config, unless the user gives their own with --configfile: a config of a real
# survey then stands alone instead of being merged into the mock defaults (schema defaults fill what it omits).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/mocksky.smk"
include: "workflow/rules/ingest.smk"
include: "workflow/rules/pretrain.smk"
include: "workflow/rules/embed.smk"
include: "workflow/rules/search.smk"
include: "workflow/rules/probes.smk"
include: "workflow/rules/photoz.smk"
include: "workflow/rules/maps.smk"
include: "workflow/rules/explorer.smk"
include: "workflow/rules/baseline.smk"
include: "workflow/rules/labels_needed.smk"
include: "workflow/rules/finetune.smk"
include: "workflow/rules/galaxalign.smk"
include: "workflow/rules/metrics.smk"


localrules:
    all,


rule all:
    input:
        all_targets(),
