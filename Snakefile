# galssl: sky catalogue -> survey cutouts -> self-supervised galaxy representations -> science figures.
# This file only wires things together; the rules live in workflow/rules/*.smk.


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/mocksky.smk"


localrules:
    all,


rule all:
    input:
        all_targets(),
