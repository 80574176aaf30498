"""Model families: everything that knows what a FALSR or a RENAS network is, one folder each; the
family table (:mod:`falsr_zoo.families.table`) names them. Families import nothing above them."""
