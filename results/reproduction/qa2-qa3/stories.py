"""docs/reproduction.md, "qa2 and qa3": facts and tokens (the study's tokenizer) of qa1-qa3 stories, in the offline
generator's (3,000, seed 0) and in the bAbI test split. Usage: python results/reproduction/qa2-qa3/stories.py"""

import statistics

from lm2.data.babi.generator import generate_babi
from lm2.data.babi.parse import load_babi
from lm2.data.paths import data_dir
from lm2.data.tokenizer import count_tokens, load_tokenizer

tokenizer = load_tokenizer("results/reproduction/models/pretrained/lm2/model")
for task in ("qa1", "qa2", "qa3"):
    for source, stories in (("generator", generate_babi(task, 3000, seed=0)),
                            ("test split", load_babi(task, "test", root=data_dir() / "babi" / "en-10k"))):  # fmt: skip
        facts = [len(s.facts) for s in stories]
        tokens = count_tokens(tokenizer, [" ".join(s.facts) + " " + s.question for s in stories])
        print(
            f"{task} {source}: facts median {statistics.median(facts)}, max {max(facts)}; "
            f"tokens median {statistics.median(tokens)}, max {max(tokens)}"
        )
