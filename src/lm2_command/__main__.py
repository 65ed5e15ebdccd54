"""`python -m lm2_command ARGS` runs the `lm2` command as the console script does (the model classes loaded on first
use), with the Python that runs it: how `lm2 reproduce` starts its commands."""

import sys

from lm2_command import main

sys.exit(main())
