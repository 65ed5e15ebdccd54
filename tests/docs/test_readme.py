"""The README's Python example runs as written, and its two commands are the ones CI runs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "README has no python example"
    monkeypatch.chdir(tmp_path)
    for code in blocks:
        exec(compile(code.replace("/tmp/lm2-tiny", str(tmp_path / "lm2-tiny")), "README.md", "exec"), {})


def test_readme_test_command_is_what_ci_runs():
    ci = (README.parent / ".ci" / "run").read_text()
    readme = README.read_text()
    assert 'pip install torch==2.13.0 && pip install -e ".[dev]" && python -m pytest' in readme
    assert "pip install -q torch==2.13.0" in ci and 'pip install -q -e ".[dev]"' in ci
    assert ci.strip().splitlines()[-1] == "python -m pytest"
