"""The FALSR family (Chu et al., ICPR 2020): x2 super-resolution networks over the elastic micro +
macro search space; grammar, costs, builder, the release's colour path, export row, converter, entries."""
