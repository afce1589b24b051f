"""Matching another run's points to this run's point ids by (domain, row)."""
import numpy as np

from tlcore.embeddings.match import match_point_ids


def test_points_match_by_domain_and_row_and_the_rest_get_distinct_negative_ids():
    ref = {"domain": np.array(["source", "source", "target", "target"], dtype=object),
           "index": np.array([0, 2, 0, 2])}
    other = {"domain": np.array(["target", "source", "target", "source"], dtype=object),
             "index": np.array([2, 0, 4, 9])}
    ids = match_point_ids(ref, other)
    assert ids.tolist() == [3, 0, -3, -4]
    assert ids.dtype == np.int64
    assert match_point_ids(ref, ref).tolist() == [0, 1, 2, 3]
