"""Offline background prose: seeded, grammatical English narrative sentences, no download needed.

The sentences are built from templates and word lists written for this project, in the manner of a
nineteenth-century novel. The word lists avoid every bAbI actor name, location, object and answer
label, so a background sentence can never state or contradict a bAbI fact (`tests/data/
test_data_prose.py` checks this against all label sets and names).
"""

from __future__ import annotations

import random
from collections.abc import Callable

# (noun phrase, subject pronoun, possessive) -- no bAbI names (Mary, John, Sandra, Daniel, Bill, ...).
_PEOPLE = (
    ("the miller", "he", "his"), ("the old captain", "he", "his"), ("the schoolmaster's wife", "she", "her"),
    ("a young clerk", "he", "his"), ("the widow", "she", "her"), ("the doctor", "he", "his"),
    ("the stranger", "he", "his"), ("the innkeeper", "he", "his"), ("the shepherd", "he", "his"),
    ("the blacksmith", "he", "his"), ("her cousin", "she", "her"), ("his father", "he", "his"),
    ("the vicar", "he", "his"), ("a tall gentleman", "he", "his"), ("the carter", "he", "his"),
    ("the boatman", "he", "his"), ("the lady of the house", "she", "her"), ("the eldest boy", "he", "his"),
    ("a ragged traveller", "he", "his"), ("the housekeeper", "she", "her"), ("Margaret", "she", "her"),
    ("Edmund", "he", "his"), ("Harriet", "she", "her"), ("Walter", "he", "his"), ("Clara", "she", "her"),
    ("Arthur", "he", "his"), ("Agnes", "she", "her"), ("Oliver", "he", "his"), ("Eleanor", "she", "her"),
    ("Henry", "he", "his"), ("Catherine", "she", "her"), ("Robert", "he", "his"), ("Martha", "she", "her"),
    ("Philip", "he", "his"), ("Beatrice", "she", "her"), ("Stephen", "he", "his"),
    ("old Mrs Hale", "she", "her"), ("the parson's daughter", "she", "her"), ("the ferryman", "he", "his"),
    ("the young squire", "he", "his"),
)  # fmt: skip
_PLACES = (
    "the mill", "the churchyard", "the harbour", "the market place", "the orchard", "the ferry landing",
    "the old bridge", "the parsonage", "the inn", "the hill road", "the forge",
    "the meadow", "the wharf", "the chapel", "the stable yard", "the barn", "the cottage", "the lighthouse",
    "the town hall", "the river bank", "the high street", "the quarry", "the vicarage", "the toll gate",
)  # fmt: skip
_VIEWS = ("the hills", "the moor", "the marshes", "the woods", "the valley", "the sea", "the fields",
          "the distant spires", "the harbour lights", "the long line of the downs")  # fmt: skip
_WEATHER = (
    "the wind rose and rattled the shutters", "a thin rain began to fall", "the fog lay thick upon the water",
    "the sun broke through the clouds", "the frost had hardened the ruts of the lane",
    "the air was still and warm", "a storm gathered over the sea", "the snow lay deep along the hedges",
    "the evening light turned the roofs to gold", "the leaves came down in drifts at every gust",
)  # fmt: skip
_THINGS = (
    "a letter", "the lantern", "an old map", "a bundle of papers", "the key to the cellar",
    "a basket of bread", "his walking stick", "her shawl", "the account book", "a small brass bell",
    "a faded portrait", "the newspaper", "a ring of keys", "the prayer book", "a pair of gloves",
    "the little silver watch",
)  # fmt: skip
_FEELINGS = ("uneasy", "glad", "weary of waiting", "strangely calm", "half afraid", "full of hope",
             "ashamed", "impatient", "restless", "curious", "sorry for it", "suddenly shy")  # fmt: skip
_TOPICS = (
    "the harvest", "the new railway", "the election", "the price of corn", "the wreck off the point",
    "the squire's debts", "a wedding planned for the spring", "the fair at the county town",
    "the flood of the year before", "the new curate", "the sale of the old manor", "the road tolls",
)  # fmt: skip
_MEMORIES = (
    "the house where {p} had been born", "the summer before the flood", "an old friend long since dead",
    "the years abroad", "the voyage home", "a quarrel that had never been mended",
    "the first winter in the town", "a promise made long ago",
)  # fmt: skip
_TIMES = ("In the morning", "Towards evening", "Late that night", "At first light", "By noon",
          "Some weeks later", "All that winter", "On the following day", "When the bells had stopped",
          "Before the rain came", "At the end of the week", "Early in the spring")  # fmt: skip
_SEASONS = (("frost", "fruit"), ("rain", "hay"), ("drought", "corn"), ("cold", "barley"))
_NOUNS = ("man", "fellow", "neighbour", "worker", "scholar", "talker")

Pick = Callable[[tuple], object]


def _sentence(pick: Pick) -> str:
    person, pronoun, possessive = pick(_PEOPLE)
    other = pick(_PEOPLE)[0]
    while other == person:
        other = pick(_PEOPLE)[0]
    season = pick(_SEASONS)
    weather = pick(_WEATHER)
    fields = {
        "P": person[0].upper() + person[1:],
        "p": person,
        "he": pronoun,
        "his": possessive,
        "self": "himself" if pronoun == "he" else "herself",
        "o": other,
        "place": pick(_PLACES),
        "view": pick(_VIEWS),
        "weather": weather,
        "Weather": weather[0].upper() + weather[1:],
        "thing": pick(_THINGS),
        "feeling": pick(_FEELINGS),
        "topic": pick(_TOPICS),
        "time": pick(_TIMES),
        "noun": pick(_NOUNS),
        "memory": pick(_MEMORIES).format(p=pronoun),
        "season": season[0],
        "crop": season[1],
        "n": pick(("two", "three", "four", "five", "several")),
    }
    return pick(_TEMPLATES).format(**fields)


_TEMPLATES = (
    "{time}, {p} walked down to {place}, where {weather}.",
    "{P} had never cared much for {place}, but {he} passed that way often enough.",
    "Nobody in the parish could remember a winter so long or so bitter.",
    "{P} sat by the window for a long while, thinking of {memory}.",
    "It was nearly dark when the coach came over the hill, and {p} stood waiting at the gate.",
    "{Weather}, and the lamps were lit early in every house along the street.",
    "There was something in the manner of {o} that made {p} feel {feeling}.",
    "{P} folded {thing} carefully and laid it on the table.",
    "{P} said little at supper, and afterwards {he} stepped out to look at {view}.",
    "From {place} one could see {view}, grey and quiet under the low sky.",
    "{P} knew well enough that the matter could not rest there.",
    "The talk at the inn that evening was all of {topic}.",
    "{P} laughed, though {he} did not feel in the least like laughing.",
    "Many years afterwards {p} would remember that evening with a strange mixture of pleasure and regret.",
    "{P} wrote {n} letters that week and posted none of them.",
    "The road beyond {place} was rough and narrow, and the horses went slowly.",
    "When at last the door opened, it was {p} who came in, shaking the rain from {his} coat.",
    "{P} had the habit of humming old songs while {he} worked.",
    "There is no use in pretending, {p} thought, that things will ever be as they were.",
    "{P} looked at {thing} for some time without speaking.",
    "The {season} came early that year, and the {crop} was ruined in the fields.",
    "It seemed to {p} that the whole town had turned out to watch.",
    "{P} promised {o} to return before the end of the month.",
    "A dog barked somewhere beyond {place}, and then all was quiet again.",
    "{P} was not a clever {noun}, but {he} was honest and kind.",
    "{P} and {o} talked of {topic} until the candles burned low.",
    "{P} found {thing} where it had been forgotten, half hidden under a pile of old coats.",
    "{time}, {weather}, and {p} was glad of the fire.",
    "It was {o} who first spoke of {topic}, and {p} listened without a word.",
    "{P} could not say afterwards how long {he} had waited by {place}.",
    "The letter from {o} arrived {n} days late and said nothing of importance.",
    "Everyone agreed that {p} had behaved very sensibly in the whole affair.",
    "{P} kept {thing} in a drawer and never spoke of it to anyone.",
    "Beyond {place} the lane climbed steeply towards {view}.",
    "{P} was too proud to ask for help and too honest to pretend {he} did not need it.",
    "For a moment {p} seemed about to answer, and then {he} turned away.",
    "{P} had heard a good deal about {topic}, and believed very little of it.",
    "The bells of {place} were ringing when {p} came back from the fields.",
    "{time}, {p} sat down to write to {o} about {topic}.",
    "No one could say for certain where {p} had spent the night.",
    "{P} had always been {feeling} in the company of {o}.",
    "The fire had burned low, and {p} did not trouble to mend it.",
    "{P} stood for a while at the edge of {place}, looking towards {view}.",
    "It was the kind of evening on which {p} liked to walk alone.",
    "{P} gave {o} a long look, but said nothing more that night.",
    "The lamp in the window of {place} was still burning at midnight.",
    "{P} remembered {memory}, and for a moment could not speak.",
    "By the time {p} reached {place}, {weather}.",
    "Whatever {p} may have thought of {topic}, {he} kept it to {self}.",
    "{P} put {thing} into {his} pocket and went out without a word.",
    "There had been no news of {o} since the {season} of the year before.",
    "{P} was surprised to find {o} already waiting at {place}.",
)


def prose_sentences(count: int, seed: int = 0) -> list[str]:
    """`count` background sentences, the same for the same seed."""
    rng = random.Random(f"lm2-prose-{seed}")

    def pick(options: tuple) -> object:
        return options[rng.randrange(len(options))]

    return [_sentence(pick) for _ in range(count)]
