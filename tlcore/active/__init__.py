"""Active learning: which target training samples to label next.

* :mod:`tlcore.active.query`: the query strategies (numpy in, pool positions out): random, entropy, margin,
  core-set, BADGE.
* :mod:`tlcore.active.pool`: a finished run's target training pool (its unlabelled part of ``target_train``,
  never ``target_test``) with the run model's probabilities and penultimate features.

Label sets (what a person answers) live with the data: :mod:`tlcore.data.label_sets`.
"""
