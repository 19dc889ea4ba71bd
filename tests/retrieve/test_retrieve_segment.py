"""Cutting tracks into clips."""

import pytest

from vmb.errors import UsageError
from vmb.retrieve.segment import segment_track


def test_whole_segments_then_a_tail_of_at_least_half():
    assert segment_track(30.0, 10, 10) == [(0.0, 10.0), (10.0, 10.0), (20.0, 10.0)]
    assert segment_track(26.0, 10, 10) == [(0.0, 10.0), (10.0, 10.0), (20.0, 6.0)]
    assert segment_track(24.0, 10, 10) == [(0.0, 10.0), (10.0, 10.0)]


def test_overlapping_hop_and_short_tracks():
    assert segment_track(20.0, 10, 5) == [(0.0, 10.0), (5.0, 10.0), (10.0, 10.0)]
    assert segment_track(4.0, 10, 10) == [(0.0, 4.0)]
    assert segment_track(0.5, 10, 10) == []


@pytest.mark.parametrize("segment, hop", [(0, 10), (10, 0), (-1, 1), (5, 11)])
def test_bad_settings(segment, hop):
    with pytest.raises(UsageError, match=r"^--(segment|hop)-s -?\d+: (must be greater than 0|more than twice)"):
        segment_track(30.0, segment, hop)
