"""The simulated world behind the offline bAbI generator: actors moving between locations and taking,
dropping and giving objects, with what a reader of the story knows.

Follows the original bAbI simulation (Weston et al. 2015; facebookarchive/bAbI-tasks): an action is
drawn, then a valid clause for it (an actor can only take an object in the same place, give it to
someone in the same place, drop what it holds). The reader never sees the initial positions, so an
actor's location is known only after a sentence states it; the question logic of each task
(`generator.py`) reads the bookkeeping kept here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

MOVE_FORMS = ("{a} went to the {l}.", "{a} journeyed to the {l}.", "{a} travelled to the {l}.",
              "{a} went back to the {l}.", "{a} moved to the {l}.")  # fmt: skip
GET_FORMS = ("{a} got the {o}{there}.", "{a} took the {o}{there}.", "{a} grabbed the {o}{there}.",
             "{a} picked up the {o}{there}.")  # fmt: skip
DROP_FORMS = ("{a} dropped the {o}{there}.", "{a} put down the {o}{there}.", "{a} discarded the {o}{there}.",
              "{a} left the {o}{there}.")  # fmt: skip
GIVE_FORMS = ("{a} gave the {o} to {b}.", "{a} passed the {o} to {b}.", "{a} handed the {o} to {b}.")

ACTORS = ("Mary", "John", "Sandra", "Daniel")
LOCATIONS = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
OBJECTS = ("apple", "football", "milk")


class Story:
    """A bAbI story being written: facts and questions with line IDs counted from 1."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str | None, tuple[int, ...]]] = []
        self.questions = 0

    def fact(self, text: str) -> int:
        self.lines.append((text, None, ()))
        return len(self.lines)

    def ask(self, question: str, answer: str, supports: list[int] | tuple[int, ...]) -> None:
        self.lines.append((question, answer, tuple(supports)))
        self.questions += 1

    def render(self) -> list[str]:
        """The story as bAbI file lines (without newlines)."""
        out = []
        for number, (text, answer, supports) in enumerate(self.lines, start=1):
            if answer is None:
                out.append(f"{number} {text}")
            else:
                out.append(f"{number} {text}\t{answer}\t{' '.join(map(str, supports))}")
        return out


@dataclass
class World:
    """True state plus what the reader has been told, updated one sentence at a time."""

    rng: random.Random
    story: Story
    actors: tuple[str, ...] = ACTORS
    locations: tuple[str, ...] = LOCATIONS
    objects: tuple[str, ...] = OBJECTS
    get_there: float = 1.0  # probability that a take sentence ends in "there"
    drop_there: float = 0.2
    where: dict[str, str] = field(default_factory=dict)  # actor -> true location
    holder: dict[str, str | None] = field(default_factory=dict)  # object -> actor holding it
    floor: dict[str, str] = field(default_factory=dict)  # object -> true location when not held
    moved: dict[str, int] = field(default_factory=dict)  # actor -> line stating its current location
    held: dict[str, list[str]] = field(default_factory=dict)  # actor -> objects, in order taken
    events: dict[str, list[int]] = field(default_factory=dict)  # actor -> lines of its object events
    object_line: dict[str, int] = field(default_factory=dict)  # object -> its last get/drop/give line
    dropped_at: dict[str, tuple[str, int]] = field(default_factory=dict)  # object -> (location, line)
    history: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # object -> known places
    gives: list[tuple[str, str, str, int]] = field(default_factory=list)  # (giver, object, taker, line)

    def __post_init__(self) -> None:
        for actor in self.actors:
            self.where[actor] = self.rng.choice(self.locations)
            self.held[actor] = []
            self.events[actor] = []
        for obj in self.objects:
            self.holder[obj] = None
            self.floor[obj] = self.rng.choice(self.locations)
            self.history[obj] = []

    # -- the valid clauses of each action -------------------------------------------------------
    def options(self, action: str) -> list[tuple[str, ...]]:
        if action == "move":
            return [(a, loc) for a in self.actors for loc in self.locations if loc != self.where[a]]
        if action == "get":
            return [
                (a, o)
                for a in self.actors
                for o in self.objects
                if self.holder[o] is None and self.floor[o] == self.where[a]
            ]
        if action == "drop":
            return [(self.holder[o], o) for o in self.objects if self.holder[o] is not None]
        if action == "give":
            return [
                (self.holder[o], o, b)
                for o in self.objects
                if self.holder[o] is not None
                for b in self.actors
                if b != self.holder[o] and self.where[b] == self.where[self.holder[o]]
            ]
        raise ValueError(f"unknown action {action!r}; allowed: move, get, drop, give")

    def act(self, weights: dict[str, float]) -> str:
        """Draw an action by `weights` among those with a valid clause, perform it, write its sentence."""
        choices = {name: w for name, w in weights.items() if w > 0 and self.options(name)}
        names = sorted(choices)
        action = self.rng.choices(names, weights=[choices[n] for n in names])[0]
        args = self.rng.choice(self.options(action))
        getattr(self, action)(*args)
        return action

    # -- actions ----------------------------------------------------------------------------------
    def move(self, actor: str, location: str) -> int:
        line = self.story.fact(self.rng.choice(MOVE_FORMS).format(a=actor, l=location))
        self.where[actor] = location
        self.moved[actor] = line
        for obj in self.held[actor]:
            self._visit(obj, location, line)
        return line

    def get(self, actor: str, obj: str) -> int:
        there = " there" if self.rng.random() < self.get_there else ""
        line = self.story.fact(self.rng.choice(GET_FORMS).format(a=actor, o=obj, there=there))
        self._take(actor, obj, line)
        if actor in self.moved:
            self._visit(obj, self.where[actor], self.moved[actor])
        return line

    def drop(self, actor: str, obj: str) -> int:
        there = " there" if self.rng.random() < self.drop_there else ""
        line = self.story.fact(self.rng.choice(DROP_FORMS).format(a=actor, o=obj, there=there))
        self.held[actor].remove(obj)
        self.holder[obj] = None
        self.floor[obj] = self.where[actor]
        self.events[actor].append(line)
        self.object_line[obj] = line
        if actor in self.moved:
            self.dropped_at[obj] = (self.where[actor], self.moved[actor])
        else:
            self.dropped_at.pop(obj, None)
        return line

    def give(self, actor: str, obj: str, taker: str) -> int:
        line = self.story.fact(self.rng.choice(GIVE_FORMS).format(a=actor, o=obj, b=taker))
        self.held[actor].remove(obj)
        self.events[actor].append(line)
        self._take(taker, obj, line)
        self.gives.append((actor, obj, taker, line))
        return line

    def _take(self, actor: str, obj: str, line: int) -> None:
        self.holder[obj] = actor
        self.held[actor].append(obj)
        self.events[actor].append(line)
        self.object_line[obj] = line
        self.dropped_at.pop(obj, None)

    def _visit(self, obj: str, location: str, line: int) -> None:
        """Record that the reader now knows `obj` is at `location` (stated by `line`)."""
        places = self.history[obj]
        if not places or places[-1][0] != location:
            places.append((location, line))

    # -- what the reader knows ----------------------------------------------------------------------
    def object_location(self, obj: str) -> tuple[str, list[int]] | None:
        """Where the reader can tell `obj` is, with the supporting lines (object fact, location fact)."""
        actor = self.holder[obj]
        if actor is not None:
            if actor not in self.moved:
                return None
            return self.where[actor], [self.object_line[obj], self.moved[actor]]
        if obj in self.dropped_at:
            location, line = self.dropped_at[obj]
            return location, [self.object_line[obj], line]
        return None
