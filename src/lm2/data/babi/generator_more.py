"""Offline generator, tasks qa11-qa20: coreference, conjunction, time, deduction, induction, positions,
sizes, paths and motivations, with the release's vocabulary, sentence forms and answer sets. Registered
with the qa1-qa10 stories in `generator.py`, which documents the common rules.
"""

from __future__ import annotations

import random

from lm2.data.babi.world import LOCATIONS, MOVE_FORMS, Story, World

GET_FORMS = ("{a} got the {o} there.", "{a} took the {o} there.", "{a} grabbed the {o} there.",
             "{a} picked up the {o} there.")  # fmt: skip
ADVERBS = ("Then", "After that", "Following that", "Afterwards")
PRONOUN = {"Mary": "she", "Sandra": "she", "John": "he", "Daniel": "he"}


def _move(rng: random.Random, subject: str, location: str) -> str:
    return rng.choice(MOVE_FORMS).format(a=subject, l=location)


def _recent_pick(rng: random.Random, groups: list[tuple[str, ...]], weights: tuple[float, ...]) -> str:
    """An actor from one of the latest groups of actors: the last with weights[0], and so on."""
    recent = groups[::-1][: len(weights)]
    group = rng.choices(recent, weights=weights[: len(recent)])[0]
    return rng.choice(group)


def story_qa11(rng: random.Random) -> Story:
    """Pairs "A moved to X. Then she moved to Y."; "Where is A?" is answered by both lines."""
    story, world = Story(), World(rng, Story())
    last: dict[str, tuple[int, int, str]] = {}
    pairs: list[tuple[str, ...]] = []
    for _ in range(5):
        actor = rng.choice(world.actors)
        first, second = rng.sample(LOCATIONS, 2)
        named = story.fact(_move(rng, actor, first))
        text = _move(rng, PRONOUN[actor], second)
        pronoun_line = story.fact(f"{rng.choice(ADVERBS)} {text[0].lower()}{text[1:]}")
        last[actor] = (named, pronoun_line, second)
        pairs.append((actor,))
        asked = _recent_pick(rng, [p for p in pairs if p[0] in last], (0.5, 0.35, 0.15))
        named, pronoun_line, location = last[asked]
        story.ask(f"Where is {asked}?", location, [named, pronoun_line])
    return story


def story_qa12(rng: random.Random) -> Story:
    """ "A and B moved to X."; "Where is A?" is answered by the last line naming A."""
    story = Story()
    actors = ("Mary", "John", "Sandra", "Daniel")
    last: dict[str, tuple[int, str]] = {}
    lines: list[tuple[str, ...]] = []
    for _ in range(5):
        for _ in range(2):
            pair = tuple(rng.sample(actors, 2))
            location = rng.choice(LOCATIONS)
            line = story.fact(_move(rng, f"{pair[0]} and {pair[1]}", location))
            for actor in pair:
                last[actor] = (line, location)
            lines.append(pair)
        asked = _recent_pick(rng, lines, (0.6, 0.3, 0.1))
        story.ask(f"Where is {asked}?", last[asked][1], [last[asked][0]])
    return story


def story_qa13(rng: random.Random) -> Story:
    """Pairs "A and B moved to X. Then they moved to Y."."""
    story = Story()
    actors = ("Mary", "John", "Sandra", "Daniel")
    last: dict[str, tuple[int, int, str]] = {}
    pairs: list[tuple[str, ...]] = []
    for _ in range(5):
        pair = tuple(rng.sample(actors, 2))
        first, second = rng.sample(LOCATIONS, 2)
        named = story.fact(_move(rng, f"{pair[0]} and {pair[1]}", first))
        text = _move(rng, "they", second)
        then = story.fact(f"{rng.choice(ADVERBS)} {text}")
        for actor in pair:
            last[actor] = (named, then, second)
        pairs.append(pair)
        asked = _recent_pick(rng, pairs, (0.92, 0.08))
        story.ask(f"Where is {asked}?", last[asked][2], list(last[asked][:2]))
    return story


TIMES = ("yesterday", "this morning", "this afternoon", "this evening")
QA14_ACTORS = ("Bill", "Fred", "Julie", "Mary")
QA14_LOCATIONS = ("bedroom", "cinema", "kitchen", "office", "park", "school")


def story_qa14(rng: random.Random) -> Story:
    """Each actor's day (yesterday, this morning, afternoon, evening), told out of order; "Where was A
    before the X?" is answered by the lines for X's time and the time before."""
    story = Story()
    day = {}
    for actor in QA14_ACTORS:
        places = [rng.choice(QA14_LOCATIONS)]
        for _ in range(3):
            places.append(rng.choice([p for p in QA14_LOCATIONS if p != places[-1]]))
        day[actor] = places
    told: dict[tuple[str, int], int] = {}
    while story.questions < 5:
        for _ in range(2):
            actor = rng.choice([a for a in QA14_ACTORS if any((a, t) not in told for t in range(4))])
            untold = [t for t in range(4) if (actor, t) not in told]
            slot = untold[0] if rng.random() < 0.6 else rng.choice(untold)  # mostly in time order
            when, move = TIMES[slot], _move(rng, actor, day[actor][slot])
            text = f"{when.capitalize()} {move}" if rng.random() < 0.5 else f"{move[:-1]} {when}."
            told[(actor, slot)] = story.fact(text)
        askable = [(a, t) for (a, t) in told if t > 0 and (a, t - 1) in told]
        if askable:
            actor, slot = max(askable, key=lambda key: (told[key] + rng.random() * 6, key))
            story.ask(f"Where was {actor} before the {day[actor][slot]}?", day[actor][slot - 1],
                      [told[(actor, slot)], told[(actor, slot - 1)]])  # fmt: skip
    return story


SPECIES = {"cat": "Cats", "mouse": "Mice", "sheep": "Sheep", "wolf": "Wolves"}
PLURAL_OBJECT = {"cat": "cats", "mouse": "mice", "sheep": "sheep", "wolf": "wolves"}


def story_qa15(rng: random.Random) -> Story:
    """Four fear rules and four memberships, shuffled; "What is x afraid of?" needs both."""
    story = Story()
    fears = {s: rng.choice([o for o in SPECIES if o != s]) for s in SPECIES}
    names = {n: rng.choice(list(SPECIES)) for n in ("Gertrude", "Winona", "Jessica", "Emily")}
    facts = [("rule", s) for s in SPECIES] + [("name", n) for n in names]
    rng.shuffle(facts)
    line = {}
    for kind, key in facts:
        if kind == "rule":
            line[key] = story.fact(f"{SPECIES[key]} are afraid of {PLURAL_OBJECT[fears[key]]}.")
        else:
            line[key] = story.fact(f"{key} is a {names[key]}.")
    for _ in range(4):
        name = rng.choice(list(names))
        story.ask(f"What is {name.lower()} afraid of?", fears[names[name]], [line[name], line[names[name]]])
    return story


def story_qa16(rng: random.Random) -> Story:
    """Five animals, four with a colour; "What color is X?" follows from another of its kind."""
    story = Story()
    names = ["Lily", "Bernhard", "Greg", "Brian", "Julius"]
    colour = {s: rng.choice(("white", "gray", "yellow", "green")) for s in ("swan", "lion", "frog", "rhino")}
    asked = rng.choice(names)
    kind = {n: rng.choice(list(colour)) for n in names}
    witness = rng.choice([n for n in names if n != asked])
    kind[witness] = kind[asked]
    # a random interleaving of the names' facts, each name's kind before its colour
    pending = {n: ["kind"] if n == asked else ["kind", "colour"] for n in names}
    events = []
    while pending:
        name = rng.choice(sorted(pending))
        events.append((name, pending[name].pop(0)))
        if not pending[name]:
            del pending[name]
    line: dict[tuple[str, str], int] = {}
    for name, what in events:
        text = f"{name} is a {kind[name]}." if what == "kind" else f"{name} is {colour[kind[name]]}."
        line[(name, what)] = story.fact(text)
    story.ask(f"What color is {asked}?", colour[kind[asked]],
              [line[(asked, "kind")], line[(witness, "kind")], line[(witness, "colour")]])  # fmt: skip
    return story


SHAPES = ("red square", "blue square", "red sphere", "pink rectangle", "triangle", "yellow square")
# direction -> (words when the first object is on that side of the second, unit offset)
SIDES = {"left": ("to the left of", (-1, 0)), "right": ("to the right of", (1, 0)),
         "above": ("above", (0, 1)), "below": ("below", (0, -1))}  # fmt: skip
OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}


def story_qa17(rng: random.Random) -> Story:
    """Two shapes placed relative to a middle one; eight yes/no questions relate the outer two."""
    story = Story()
    first, middle, last = rng.sample(SHAPES, 3)
    side_first = rng.choice(list(SIDES))  # where `first` is relative to `middle`
    side_last = rng.choice([s for s in SIDES if s != side_first])  # never the same side: undecidable
    position = {middle: (0, 0), first: SIDES[side_first][1], last: SIDES[side_last][1]}
    line = {}
    for shape, side in ((first, side_first), (last, side_last)):
        if rng.random() < 0.5:
            line[shape] = story.fact(f"The {shape} is {SIDES[side][0]} the {middle}.")
        else:
            line[shape] = story.fact(f"The {middle} is {SIDES[OPPOSITE[side]][0]} the {shape}.")
    for _ in range(8):
        subject, other = rng.sample([first, last], 2)
        dx = position[subject][0] - position[other][0]
        dy = position[subject][1] - position[other][1]
        decided = [s for s, (_, (ux, uy)) in SIDES.items() if (ux and dx) or (uy and dy)]
        side = rng.choice(decided)
        ux, uy = SIDES[side][1]
        answer = "yes" if ux * dx + uy * dy > 0 else "no"
        story.ask(f"Is the {subject} {SIDES[side][0]} the {other}?", answer, [line[subject], line[other]])
    return story


BIG = ("box", "chest", "container", "suitcase")
SMALL = ("chocolate", "box of chocolates")


def story_qa18(rng: random.Random) -> Story:
    """Containers of known order; five facts, then five yes/no questions that chain two facts."""
    story = Story()
    order = list(SMALL) + rng.sample(BIG, 4)  # smallest first
    rank = {name: i for i, name in enumerate(order)}
    stated: list[tuple[str, str, int]] = []  # (smaller, bigger, line)
    while True:
        for _ in range(5):
            small, big = sorted(rng.sample(order, 2), key=rank.get)
            if rng.random() < 0.5:
                line = story.fact(f"The {small} fits inside the {big}.")
            else:
                line = story.fact(f"The {big} is bigger than the {small}.")
            stated.append((small, big, line))
        chains = [(a, c, l2, l1) for a, b, l1 in stated for b2, c, l2 in stated if b == b2 and a != c]
        if chains:
            break
    for _ in range(5):
        small, big, line_big, line_small = rng.choice(chains)
        x, y = (small, big) if rng.random() < 0.5 else (big, small)
        answer = "yes" if rank[x] < rank[y] else "no"
        question = rng.choice((f"Does the {x} fit in the {y}?", f"Is the {y} bigger than the {x}?"))
        story.ask(question, answer, [line_big, line_small])
    return story


STEP = {"n": (0, 1), "s": (0, -1), "e": (1, 0), "w": (-1, 0)}
WORD = {"n": "north", "s": "south", "e": "east", "w": "west"}
BACK = {"n": "s", "s": "n", "e": "w", "w": "e"}


def story_qa19(rng: random.Random) -> Story:
    """Six places on a grid joined by five stated adjacencies; one two-step path question."""
    story = Story()
    places = rng.sample(LOCATIONS, 6)
    cell = {places[0]: (0, 0)}
    edges: list[tuple[str, str, str]] = []  # (place, direction from it, neighbour)
    for place in places[1:]:
        while True:
            anchor, step = rng.choice(sorted(cell)), rng.choice("nsew")
            target = (cell[anchor][0] + STEP[step][0], cell[anchor][1] + STEP[step][1])
            if target not in cell.values():
                break
        cell[place] = target
        edges.append((anchor, step, place))
    rng.shuffle(edges)
    line = {}
    for anchor, step, place in edges:
        if rng.random() < 0.5:
            line[(anchor, place)] = story.fact(f"The {place} is {WORD[step]} of the {anchor}.")
        else:
            line[(anchor, place)] = story.fact(f"The {anchor} is {WORD[BACK[step]]} of the {place}.")
        line[(place, anchor)] = line[(anchor, place)]
    moves = {(a, p): s for a, s, p in edges} | {(p, a): BACK[s] for a, s, p in edges}
    paths = [(a, b, c) for (a, b) in moves for (b2, c) in moves if b == b2 and c != a]
    start, middle, end = rng.choice(paths)
    answer = f"{moves[(start, middle)]},{moves[(middle, end)]}"
    story.ask(f"How do you go from the {start} to the {end}?", answer, [line[(start, middle)], line[(middle, end)]])
    return story


MOTIVES = {"hungry": ("kitchen", "apple"), "thirsty": ("kitchen", "milk"), "bored": ("garden", "football"),
           "tired": ("bedroom", "pajamas")}  # fmt: skip


def story_qa20(rng: random.Random) -> Story:
    """Each agent's state, then a move and a take it motivates, interleaved; a question after each."""
    story = Story()
    agents = rng.sample(("Jason", "Antoine", "Sumit", "Yann"), 4)
    state = {a: rng.choice(list(MOTIVES)) for a in agents}
    steps = {a: ["state", "move", "get"] for a in agents}
    cut = rng.choices((12, 11, 10), weights=(0.1, 0.55, 0.35))[0]  # the release often stops early
    reason: dict[str, int] = {}
    for _ in range(cut):
        ready = [a for a in agents if steps[a] and (steps[a][0] == "state" or a in reason)]
        agent = rng.choice(ready)
        step, name = steps[agent].pop(0), agent.lower()
        place, thing = MOTIVES[state[agent]]
        if step == "state":
            reason[agent] = story.fact(f"{agent} is {state[agent]}.")
            story.ask(f"Where will {name} go?", place, [reason[agent]])
        elif step == "move":
            story.fact(_move(rng, agent, place))
            story.ask(f"Why did {name} go to the {place}?", state[agent], [reason[agent]])
        else:
            story.fact(rng.choice(GET_FORMS).format(a=agent, o=thing))
            story.ask(f"Why did {name} get the {thing}?", state[agent], [reason[agent]])
    return story
