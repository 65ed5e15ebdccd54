"""Offline, seeded generator of bAbI-style stories for all 20 tasks (no download needed).

Each task follows the original release's rules, vocabulary, sentence forms and answer sets. In the
world tasks (qa1-qa3, qa5-qa8) actors move, take, drop and give objects (`world.py`), stories grow
two sentences at a time and after each pair the task's question is asked when the reader can answer
it. Three kinds of knobs were tuned once against the real v1.2 `en-10k` train files so that their
statistics agree (`lm2 data babi-stats`, `tests/data/test_data_babi_generator.py`): the action mix
(WEIGHTS), how often an answerable question is asked (*_ASK), and how strongly questions favour
recently mentioned entities (*_DECAY, `pick_recent`). qa11-qa20 live in `generator_more.py`.
Output is in the bAbI file format, so generated data goes through the same parser as the real files.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import lm2.data.babi.generator_more as more
from lm2.data.babi.parse import SPLITS, BabiSample, parse_babi, task_file_name, task_id
from lm2.data.babi.world import LOCATIONS, Story, World
from lm2.files import write_atomic

GENERATED_TASKS = tuple(f"qa{i}" for i in range(1, 21))
QUESTIONS_PER_STORY = 5
NUMBERS = ("none", "one", "two", "three")

# Tuned knobs (see the module docstring). The "there" probabilities of take/drop sentences (World) are
# the real files' frequencies.
_MOVE_ONLY = {"move": 1.0}
WEIGHTS = {
    "qa2": {"move": 1.0, "get": 0.43, "drop": 0.43},
    "qa3": {"move": 1.0, "get": 0.54, "drop": 0.39},
    "qa5": {"move": 1.0, "get": 0.71, "drop": 0.26, "give": 0.71},
    "qa6": {"move": 1.0, "get": 0.49, "drop": 0.36},
    "qa7": {"move": 1.0, "get": 0.53, "drop": 0.47, "give": 1.6},
    "qa8": {"move": 1.0, "get": 0.45, "drop": 0.38},
}
QA2_ASK = 0.6
QA3_ASK, QA3_WINDOW = 0.7, 10
QA5_ASK, QA5_WINDOW = 0.9, 5
QA2_DECAY, QA6_DECAY = 0.4, 0.5
QA1_DECAY = QA7_DECAY = QA8_DECAY = QA9_DECAY = QA10_DECAY = 0.7


def pick_recent(rng: random.Random, last_line: dict[str, int], decay: float) -> str:
    """One of the keys of `last_line`, the most recently mentioned most likely: the i-th most recent
    has weight `decay**i`. The real files ask about recently mentioned entities more often than a
    uniform choice would (their supporting-fact distances are short)."""
    ranked = sorted(last_line, key=lambda key: (-last_line[key], key))
    return rng.choices(ranked, weights=[decay**i for i in range(len(ranked))])[0]


def _world_story(
    rng: random.Random, weights: dict[str, float], ask: Callable[[random.Random, Story, World], None], **world
) -> Story:
    """A story of the world tasks: two actions drawn by `weights`, then `ask` may add the task's question;
    repeated until the story has QUESTIONS_PER_STORY questions. `world`: World's options (actors, ...)."""
    story = Story()
    state = World(rng, story, **world)
    while story.questions < QUESTIONS_PER_STORY:
        state.act(weights)
        state.act(weights)
        ask(rng, story, state)
    return story


def _ask_qa1(rng: random.Random, story: Story, world: World) -> None:
    actor = pick_recent(rng, world.moved, QA1_DECAY)
    story.ask(f"Where is {actor}?", world.where[actor], [world.moved[actor]])


def _ask_qa2(rng: random.Random, story: Story, world: World) -> None:
    known = {o: min(world.object_location(o)[1]) for o in world.objects if world.object_location(o)}
    if known and rng.random() < QA2_ASK:
        obj = pick_recent(rng, known, QA2_DECAY)
        location, supports = world.object_location(obj)
        story.ask(f"Where is the {obj}?", location, supports)


def _ask_qa3(rng: random.Random, story: Story, world: World) -> None:
    askable = [o for o in world.objects if _before_question(world, o, len(story.lines))]
    if askable and rng.random() < QA3_ASK:
        obj = rng.choice(askable)
        (previous, line_prev), (current, line_cur) = world.history[obj][-2:]
        story.ask(f"Where was the {obj} before the {current}?", previous, [world.object_line[obj], line_cur, line_prev])


def _before_question(world: World, obj: str, now: int) -> bool:
    """qa3 asks "where was O before the L" when O has just arrived in L (within the last two lines)
    from a place stated at most QA3_WINDOW lines back. "Before the L" means before its latest arrival."""
    places = world.history[obj]
    return (
        len(places) >= 2 and obj in world.object_line and places[-1][1] > now - 2 and places[-2][1] > now - QA3_WINDOW
    )


def _story_qa4(rng: random.Random) -> Story:
    """Three locations on a line; two facts relate neighbours; the question asks one relation."""
    story = Story()
    axis = rng.choice((("north", "south"), ("east", "west")))  # (towards higher, towards lower)
    line = rng.sample(LOCATIONS, 3)  # line[i + 1] is axis[0] of line[i]
    relations = []
    for lower, higher in ((line[0], line[1]), (line[1], line[2])):
        if rng.random() < 0.5:
            relations.append((higher, axis[0], lower))
        else:
            relations.append((lower, axis[1], higher))
    rng.shuffle(relations)
    for subject, direction, other in relations:
        story.fact(f"The {subject} is {direction} of the {other}.")
    index = rng.randrange(2)
    subject, direction, other = relations[index]
    opposite = axis[1] if direction == axis[0] else axis[0]
    question, answer = rng.choice(
        [
            (f"What is {direction} of the {other}?", subject),
            (f"What is {opposite} of the {subject}?", other),
            (f"What is the {subject} {direction} of?", other),
            (f"What is the {other} {opposite} of?", subject),
        ]
    )
    story.ask(question, answer, [index + 1])
    return story


def _ask_qa5(rng: random.Random, story: Story, world: World) -> None:
    """The latest give, asked about while it is at most QA5_WINDOW facts back."""
    if not (world.gives and world.gives[-1][3] > len(story.lines) - QA5_WINDOW and rng.random() < QA5_ASK):
        return
    giver, obj, taker, line = world.gives[-1]
    question, answer = rng.choice(
        [
            (f"What did {giver} give to {taker}?", obj),
            (f"What did {giver} give to {taker}?", obj),
            (f"Who gave the {obj}?", giver),
            (f"Who gave the {obj} to {taker}?", giver),
            (f"Who received the {obj}?", taker),
            (f"Who did {giver} give the {obj} to?", taker),
        ]
    )
    story.ask(question, answer, [line])


def _ask_qa6(rng: random.Random, story: Story, world: World) -> None:
    if world.moved:
        actor = pick_recent(rng, world.moved, QA6_DECAY)
        _ask_yes_no(rng, story, actor, world.where[actor], world.moved[actor], LOCATIONS)


def _ask_yes_no(rng: random.Random, story: Story, actor: str, location: str, line: int, places) -> None:
    if rng.random() < 0.5:
        story.ask(f"Is {actor} in the {location}?", "yes", [line])
    else:
        other = rng.choice([p for p in places if p != location])
        story.ask(f"Is {actor} in the {other}?", "no", [line])


def _ask_carrying(rng: random.Random, story: Story, world: World, count: bool, decay: float) -> None:
    """qa7 (`count`: how many objects) and qa8 (which ones) ask about an actor with object events."""
    involved = {a: world.events[a][-1] for a in world.actors if world.events[a]}
    if involved:
        actor = pick_recent(rng, involved, decay)
        held = world.held[actor]
        if count:
            story.ask(f"How many objects is {actor} carrying?", NUMBERS[len(held)], world.events[actor])
        else:
            story.ask(f"What is {actor} carrying?", ",".join(held) or "nothing", world.events[actor])


def _statements(rng: random.Random, world: World, last: dict, stated: Callable, other: Callable, decay: float) -> str:
    """qa9 and qa10: two statements about random actors, each recorded in `last` (actor -> an entry whose
    last item is its line): a move (1/2) or "A is in the L." (1/4), recorded as `stated(location, line)`, or
    the task's own kind, `other(actor)` (1/4). Returns the actor to ask about, recently stated most likely."""
    for _ in range(2):
        actor = rng.choice(world.actors)
        kind = rng.random()
        if kind < 0.5:
            location = rng.choice([p for p in world.locations if p != world.where[actor]])
            last[actor] = stated(location, world.move(actor, location))
        elif kind < 0.75:
            location = world.where[actor]
            last[actor] = stated(location, world.story.fact(f"{actor} is in the {location}."))
        else:
            last[actor] = other(actor)
    return pick_recent(rng, {a: entry[-1] for a, entry in last.items()}, decay)


def _story_qa9(rng: random.Random) -> Story:
    """Moves, plain location statements and negated ones ("is not in", "is no longer in")."""
    story = Story()
    world = World(rng, story)
    last: dict[str, tuple[str, bool, int]] = {}  # actor -> (location, stated positively, line)

    def negated(actor: str) -> tuple[str, bool, int]:
        location = rng.choice(LOCATIONS)
        form = rng.choice(("{a} is not in the {l}.", "{a} is no longer in the {l}."))
        return location, False, story.fact(form.format(a=actor, l=location))

    for _ in range(QUESTIONS_PER_STORY):
        actor = _statements(rng, world, last, lambda location, line: (location, True, line), negated, QA9_DECAY)
        location, positive, line = last[actor]
        if positive:
            _ask_yes_no(rng, story, actor, location, line, LOCATIONS)
        else:
            story.ask(f"Is {actor} in the {location}?", "no", [line])
    return story


QA10_ACTORS = ("Bill", "Fred", "Julie", "Mary")
QA10_LOCATIONS = ("bedroom", "cinema", "kitchen", "office", "park", "school")


def _story_qa10(rng: random.Random) -> Story:
    """Moves, location statements and "either in X or Y" statements; `maybe` when undecided."""
    story = Story()
    world = World(rng, story, actors=QA10_ACTORS, locations=QA10_LOCATIONS)
    last: dict[str, tuple[tuple[str, ...], int]] = {}  # actor -> (possible locations, line)

    def either(actor: str) -> tuple[tuple[str, ...], int]:
        first, second = rng.sample(QA10_LOCATIONS, 2)
        return (first, second), story.fact(f"{actor} is either in the {first} or the {second}.")

    for _ in range(QUESTIONS_PER_STORY):
        actor = _statements(rng, world, last, lambda location, line: ((location,), line), either, QA10_DECAY)
        places, line = last[actor]
        if len(places) == 1:
            _ask_yes_no(rng, story, actor, places[0], line, QA10_LOCATIONS)
        elif rng.random() < 0.58:
            story.ask(f"Is {actor} in the {rng.choice(places)}?", "maybe", [line])
        else:
            other = rng.choice([p for p in QA10_LOCATIONS if p not in places])
            story.ask(f"Is {actor} in the {other}?", "no", [line])
    return story


_GENERATORS: dict[str, Callable[[random.Random], Story]] = {
    "qa1": partial(_world_story, weights=_MOVE_ONLY, ask=_ask_qa1),
    "qa2": partial(_world_story, weights=WEIGHTS["qa2"], ask=_ask_qa2),
    "qa3": partial(_world_story, weights=WEIGHTS["qa3"], ask=_ask_qa3, get_there=0.2),
    "qa4": _story_qa4,
    "qa5": partial(_world_story, weights=WEIGHTS["qa5"], ask=_ask_qa5, actors=("Bill", "Fred", "Jeff", "Mary")),
    "qa6": partial(_world_story, weights=WEIGHTS["qa6"], ask=_ask_qa6),
    "qa7": partial(_world_story, weights=WEIGHTS["qa7"], ask=partial(_ask_carrying, count=True, decay=QA7_DECAY)),
    "qa8": partial(_world_story, weights=WEIGHTS["qa8"], ask=partial(_ask_carrying, count=False, decay=QA8_DECAY)),
    "qa9": _story_qa9, "qa10": _story_qa10,
    "qa11": more.story_qa11, "qa12": more.story_qa12, "qa13": more.story_qa13, "qa14": more.story_qa14,
    "qa15": more.story_qa15, "qa16": more.story_qa16, "qa17": more.story_qa17, "qa18": more.story_qa18,
    "qa19": more.story_qa19, "qa20": more.story_qa20,
}  # fmt: skip


def _generator(task: str) -> Callable[[random.Random], Story]:
    task = task_id(task)
    if task not in _GENERATORS:
        raise ValueError(f"the offline generator covers {', '.join(GENERATED_TASKS)}; got {task!r}")
    return _GENERATORS[task]


def _stories(task: str, seed: int) -> Iterator[Story]:
    make = _generator(task)
    rng = random.Random(f"lm2-babi-{task_id(task)}-{seed}")
    while True:
        yield make(rng)


def generate_babi_lines(task: str, num_stories: int, seed: int = 0) -> list[str]:
    """`num_stories` stories of `task` in the bAbI file format (one string per line, no newlines)."""
    stories = _stories(task, seed)
    return [line for _ in range(num_stories) for line in next(stories).render()]


def generate_babi(task: str, num_samples: int, seed: int = 0) -> list[BabiSample]:
    """`num_samples` samples: whole stories until there are enough questions (the last story is cut),
    parsed from the generated lines exactly as a real file would be."""
    task = task_id(task)
    lines: list[str] = []
    questions = 0
    for story in _stories(task, seed):
        if questions >= num_samples:
            break
        lines.extend(story.render())
        questions += story.questions
    return parse_babi(lines, source=f"<generated {task} seed={seed}>", task=task)[:num_samples]


def split_seed(seed: int, split: str) -> int:
    """The generator seed of a split: train uses `seed`, test a seed far from it."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; allowed: {', '.join(SPLITS)}")
    return seed if split == "train" else seed + 1_000_003


def write_babi_dir(out: str | Path, tasks: list[str], num_stories: int, seed: int = 0) -> list[Path]:
    """Write generated train and test files in the release layout (`qaN_<name>_{train,test}.txt`)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in tasks:
        for split in SPLITS:
            path = out / task_file_name(task, split)
            lines = generate_babi_lines(task, num_stories, split_seed(seed, split))
            write_atomic(path, "\n".join(lines) + "\n")
            written.append(path)
    return written
