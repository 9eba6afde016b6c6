"""Which scenes become videos, and the operator's cap on moving scenes."""

import pytest

from spinbot_worker.scene_video import max_motion_scenes, planned_videos


def test_presenter_scenes_are_not_also_moved_and_plain_scenes_stay_stills():
    plan = {"scenes": [{"presenter": "full", "motion": True}, {"presenter": "corner"}, {"motion": True}, {}]}
    presenter, motion = planned_videos(plan)
    assert presenter == [0, 1]
    assert motion == [2]


def test_the_motion_cap_comes_from_the_setting_and_a_bad_value_names_it():
    assert max_motion_scenes({}) == 2
    assert max_motion_scenes({"SPINBOT_MAX_MOTION_SCENES": "0"}) == 0
    assert max_motion_scenes({"SPINBOT_MAX_MOTION_SCENES": "5"}) == 5
    with pytest.raises(ValueError, match="SPINBOT_MAX_MOTION_SCENES='lots'"):
        max_motion_scenes({"SPINBOT_MAX_MOTION_SCENES": "lots"})
