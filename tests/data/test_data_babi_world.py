"""The simulated bAbI world: actions keep the world consistent and the reader's knowledge true."""

from __future__ import annotations

import random

import pytest

from lm2.data.babi.world import Story, World

ALL_ACTIONS = {"move": 1.0, "get": 1.0, "drop": 1.0, "give": 1.0}


def test_invariants_hold_over_long_random_stories():
    for seed in range(5):
        world = World(random.Random(seed), Story())
        for _ in range(400):
            world.act(ALL_ACTIONS)
            for obj in world.objects:
                holder = world.holder[obj]
                assert (holder is None) == (not any(obj in world.held[a] for a in world.actors))
                if holder is not None:
                    assert world.held[holder].count(obj) == 1
                known = world.object_location(obj)
                if known is not None:  # what the reader can tell is the truth
                    truth = world.where[holder] if holder is not None else world.floor[obj]
                    assert known[0] == truth
                if world.history[obj]:
                    truth = world.where[holder] if holder is not None else world.floor[obj]
                    assert world.history[obj][-1][0] == truth
            for actor, line in world.moved.items():
                assert world.story.lines[line - 1][0].startswith(actor)


def test_actions_are_only_drawn_when_valid():
    world = World(random.Random(0), Story())
    assert world.options("drop") == [] and world.options("give") == []
    assert all(world.act({"drop": 1.0, "move": 1e-9}) == "move" for _ in range(5))
    with pytest.raises(ValueError, match="unknown action 'fly'"):
        world.options("fly")


def test_story_renders_ids_and_supports():
    story = Story()
    first = story.fact("Mary went to the office.")
    story.ask("Where is Mary?", "office", [first])
    story.fact("John went to the garden.")
    assert story.render() == [
        "1 Mary went to the office.",
        "2 Where is Mary?\toffice\t1",
        "3 John went to the garden.",
    ]
