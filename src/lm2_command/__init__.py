"""The `lm2` console script (`[project.scripts]` in pyproject.toml).

It lives outside the `lm2` package on purpose: `import lm2` loads the model classes and registers them with
transformers' Auto classes (DESIGN §5: `AutoModelForCausalLM.from_pretrained(path)` works after
`import lm2`), which takes seconds, while `lm2 --help` should answer at once. The script asks `lm2` to defer
the model classes to their first use (`LM2_LAZY_IMPORT`), then runs `lm2.cli.main`, which imports only the
module of the command that runs.
"""

from __future__ import annotations

import os


def main() -> int:
    os.environ["LM2_LAZY_IMPORT"] = "1"
    from lm2.cli.main import main as run

    return run()
