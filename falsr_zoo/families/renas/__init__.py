"""The RENAS family (Chen et al., CVPR 2019): classifiers stacked from one searched cell; grammar,
network plan and costs, builder, export row, entries."""
