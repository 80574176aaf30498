"""FALSR search (Chu et al., "Fast, Accurate and Lightweight Super-Resolution with Neural Architecture
Search", ICPR 2020): the elastic micro + macro space, its operators, the RL controller, the hybrid
NSGA-II, the evaluator (incomplete training) and the reports. Reached through the search-family
table (:mod:`falsr_zoo.search.table`)."""
