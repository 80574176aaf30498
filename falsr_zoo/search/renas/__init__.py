"""RENAS search (Chen et al., "RENAS: Reinforced Evolutionary Neural Architecture Search", CVPR 2019):
the cell space as tokens, the reinforced mutation controller, tournament evolution, parameter
inheritance, the evaluator and the reports. Reached through the search-family table
(:mod:`falsr_zoo.search.table`)."""
