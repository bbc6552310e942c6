"""The fleet benchmark runs end to end on a tiny fleet and reports what it promises."""

from __future__ import annotations

import pytest

from bench import fleet

pytestmark = pytest.mark.integration


def test_a_four_node_fleet_elects_again_and_spreads_a_config_change() -> None:
    """Two processes of two nodes: Redis load, members(), a config change, a leader killed."""
    results = fleet.run([4], 1.0, lambda _message: None)
    assert not results.get("failed"), results.get("failed")
    (size,) = results["sizes"]
    assert size["nodes"] == 4
    assert size["processes"] == 2
    assert size["redis"]["commands_per_s"] > 0
    assert size["members"]["count"] == 4
    assert size["config_change_s"] is not None
    assert size["killed_nodes"] == 2
    old_node, old_epoch = size["old_leader"]
    new_node, new_epoch = size["new_leader"]
    assert new_epoch > old_epoch
    assert new_node != old_node
    assert results["budget_1000"]["from_nodes"] == 4
