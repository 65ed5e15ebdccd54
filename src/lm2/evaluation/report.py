"""Reading results: the per-cell summary `lm2 eval` prints, the Markdown comparison table of `lm2 compare`
(the layout of the LM2 paper's Table 1: a block of rows per context length, a row per model, a column
per task and their average; a last block averages over the lengths) and tasks × lengths heatmaps with
annotated percentages, like the BABILong paper's figures.

Cells are shown as a percentage, `OOM` (out of memory: not run, or failed one sample at a time) or `—`
(not evaluated). An average is shown only when every cell it covers has a score, so a model that ran out
of memory at long lengths is never credited with the average of its short ones.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

from lm2.data import chance_level, parse_length
from lm2.evaluation.results import DONE, OOM, load_results
from lm2.files import save_atomic, write_atomic

logger = logging.getLogger(__name__)

COMPARISON_TABLE = "comparison.md"
COMPARISON_HEATMAPS = "comparison.png"
METRIC_NOTES = {
    "fixed": "BABILong's rule with whole-word label matching; qa7 'none' can be right",
    "official": "BABILong's rule as released: substring label matching; qa7 'none' is never accepted",
}
MISSING = "—"
ACCURACY_COLOURS = ("#d7373f", "#f2c641", "#2e9e5b")  # 0 → 100 %: red, yellow, green


def cell_text(results: dict, task: str, length: str) -> str:
    """A cell as the tables show it: `52.0`, `OOM` or `—`."""
    record = results["cells"].get(task, {}).get(length)
    if record is None:
        return MISSING
    if record["status"] == OOM:
        return "OOM"
    return f"{100 * record['accuracy']:.1f}"


def _score(results: dict, task: str, length: str) -> float | None:
    record = results["cells"].get(task, {}).get(length)
    return record["accuracy"] if record is not None and record["status"] == DONE else None


def _mean(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else sum(values) / len(values)


def mean_accuracy(results: dict, tasks: Sequence[str], lengths: Sequence[str]) -> float | None:
    """The mean accuracy over the cells `tasks` × `lengths` of one results dict, or None when any of them is
    out of memory or not evaluated (an average never stands for cells that were not scored)."""
    if not tasks or not lengths:
        raise ValueError(f"mean_accuracy needs tasks and lengths (got tasks={list(tasks)}, lengths={list(lengths)})")
    return _mean([_score(results, t, n) for t in tasks for n in lengths])


def describe_data(data: dict) -> str:
    if data.get("source") == "folder":
        count = "all" if data.get("samples") is None else f"the first {data['samples']}"
        return f"folder {data['path']} ({count} samples per file)"
    return (
        f"generated from bAbI {data.get('split', 'test')} questions ({data.get('babi')}), haystack "
        f"{data.get('haystack')}, seed {data.get('seed')}, {data.get('samples')} samples per cell"
    )


def _arch(results: dict) -> str:
    config = results["model"]["config"]
    arch = config.get("arch", results["model"]["type"])
    return f"{arch} {config.get('vanilla_mode', 'full')}" if arch == "vanilla" else arch


def describe_model(results: dict) -> str:
    model = results["model"]
    return f"{model['path'] or 'model'} ({_arch(results)}, {model['parameters']:,} parameters, {model['dtype']})"


def short_name(results: dict) -> str:
    """`model (lm2)`: the model folder's name and the architecture."""
    path = results["model"]["path"]
    return f"{Path(path).name if path else 'model'} ({_arch(results)})"


# -- lm2 eval's summary ---------------------------------------------------------------------------------
def format_summary(results: dict) -> str:
    """One line per cell: the model's accuracy beside the task's chance level and the baselines."""
    cells = [(t, n) for t in results["tasks"] for n in results["lengths"] if n in results["cells"].get(t, {})]
    baselines = [b for b in _baseline_names(results) if b != "chance"]
    wrong = any("latest_fact_wrong" in results["cells"][t][n] for t, n in cells)
    varied = any("inputs_with_several_answers" in results["cells"][t][n] for t, n in cells)
    head = ["task", "length", "samples", "model", *(["model, latest fact wrong"] if wrong else []),
            *(["inputs with several answers"] if varied else []), "chance", *baselines, "seconds"]  # fmt: skip
    rows = []
    for task, length in cells:
        record = results["cells"][task][length]
        model = "OOM" if record["status"] == OOM else f"{100 * record['accuracy']:.1f}%"
        part = record.get("latest_fact_wrong")
        split = [f"{100 * part['accuracy']:.1f}% of {part['samples']}" if part else "—"] if wrong else []
        if varied:
            share = record.get("inputs_with_several_answers")
            split.append("—" if share is None else f"{100 * share:.1f}%")
        scores = [f"{100 * record['baselines'][b]:.1f}%" if b in record["baselines"] else "—"
                  for b in ["chance", *baselines]]  # fmt: skip
        rows.append([task, length, str(record["samples"]), model, *split, *scores,
                     f"{record.get('seconds', 0):.1f}"])  # fmt: skip
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(head)]
    align = [str.ljust, str.ljust] + [str.rjust] * (len(head) - 2)
    lines = [
        f"BABILong accuracy — metric: {results['metric']} ({METRIC_NOTES[results['metric']]})",
        f"model: {describe_model(results)}",
        f"data:  {describe_data(results['data'])}",
        "chance: uniform guess over the task's labels; last_label: the most recent label in the input; "
        "last_mention: the label of the last sentence naming what the question names (exact for qa1 and qa6, "
        "a shortcut elsewhere); majority: always the most frequent answer"
        + (
            "; latest_fact: the place named in the story's latest statement, whoever it is about (the books' words "
            "cannot fool it); 'model, latest fact wrong': the model on the questions where that place is not the "
            "answer"
            if wrong or "latest_fact" in baselines
            else ""
        )
        + (
            "; every person of each input asked: person_blind is the most that one answer per input, whoever is "
            "asked, can score (a model above it answers according to the person)"
            if "person_blind" in baselines
            else ""
        ),
        "",
        "  ".join(f(h, w) for f, h, w in zip(align, head, widths, strict=True)),
    ]
    lines += ["  ".join(f(c, w) for f, c, w in zip(align, row, widths, strict=True)) for row in rows]
    oom = [f"{t} {n}: {results['cells'][t][n].get('error', '')}" for t, n in cells
           if results["cells"][t][n]["status"] == OOM]  # fmt: skip
    lines += ["", *(f"OOM {line}" for line in oom)] if oom else []
    lines.append(f"\nwall time {results['wall_seconds']:.1f} s over {len(results['sessions'])} run(s)")
    return "\n".join(lines)


def _baseline_names(results: dict) -> list[str]:
    """Every baseline of any cell, in the order the cells first name them."""
    names = {b: None for cells in results["cells"].values() for record in cells.values() for b in record["baselines"]}
    return list(names) or ["chance"]


# -- lm2 compare ------------------------------------------------------------------------------------------
def comparison_table(runs: Sequence[dict], names: Sequence[str]) -> str:
    """The Markdown table of several results (LM2 paper Table 1 layout), with a header naming each model,
    the metric and the data."""
    tasks = sorted({t for r in runs for t in r["tasks"]}, key=lambda t: int(t[2:]))
    lengths = sorted({n for r in runs for n in r["lengths"]}, key=parse_length)
    lines = [f"# BABILong accuracy (%) — metric: {runs[0]['metric']}", ""]
    for name, results in zip(names, runs, strict=True):
        lines.append(f"- **{name}**: {describe_model(results)}; data: {describe_data(results['data'])}")
    lines += ["", "| length | model | " + " | ".join(tasks) + " | avg |", "|---|---|" + "---:|" * (len(tasks) + 1)]
    for length in [*lengths, "avg"]:
        block = []
        for results in runs:
            if length == "avg":
                scores = [_mean([_score(results, t, n) for n in lengths]) for t in tasks]
                texts = [MISSING if s is None else f"{100 * s:.1f}" for s in scores]
            else:
                scores = [_score(results, t, length) for t in tasks]
                texts = [cell_text(results, t, length) for t in tasks]
            average = _mean(scores)
            block.append((scores + [average], texts + [MISSING if average is None else f"{100 * average:.1f}"]))
        for i, (name, (_, texts)) in enumerate(zip(names, block, strict=True)):
            shown = [_bold_if_best(block, i, j, text) for j, text in enumerate(texts)]
            label = (length if length != "avg" else "avg (all lengths)") if i == 0 else ""
            lines.append(f"| {label} | {name} | " + " | ".join(shown) + " |")
    chances = [chance_level(t) for t in tasks]
    chance_row = [f"{100 * c:.1f}" for c in chances] + [f"{100 * sum(chances) / len(chances):.1f}"]
    lines.append("| chance | | " + " | ".join(chance_row) + " |")
    lines += [
        "",
        f"Metric: {METRIC_NOTES[runs[0]['metric']]}. Best score of each length and task in bold. OOM: out of memory "
        f"(not run, or failed one sample at a time); {MISSING}: not evaluated. An average is shown only when "
        "every cell it covers was scored. Chance: a uniform guess over the task's labels.",
    ]
    return "\n".join(lines) + "\n"


def _bold_if_best(block: list, row: int, column: int, text: str) -> str:
    """Bold the best score of a column within a length block (ties all bold; nothing when all equal)."""
    scores = [b[0][column] for b in block if b[0][column] is not None]
    mine = block[row][0][column]
    if mine is None or len(set(scores)) < 2:
        return text
    return f"**{text}**" if mine == max(scores) else text


def compare(results_paths: Sequence[str | Path], out: str | Path, names: Sequence[str] | None = None) -> str:
    """Read several `results.json` (or evaluation folders), write `out/comparison.md` (the Markdown table)
    and `out/comparison.png` (side-by-side heatmaps), and return the table. All results must use the
    same metric mode; results on different data are compared with a warning."""
    if not results_paths:
        raise ValueError("compare needs at least one results.json")
    runs = [load_results(p) for p in results_paths]
    if names is None:
        names = _default_names(results_paths)
    elif len(names) != len(runs):
        raise ValueError(f"names: {len(names)} given for {len(runs)} results files; give one name per file")
    metrics = {r["metric"] for r in runs}
    if len(metrics) > 1:
        found = ", ".join(f"{n}: {r['metric']}" for n, r in zip(names, runs, strict=True))
        raise ValueError(f"results use different metric modes ({found}); evaluate them with the same --metric")
    if len({repr(sorted(r["identity"]["data"].items())) for r in runs}) > 1:
        logger.warning("the results were computed on different data; the table compares them anyway")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    table = comparison_table(runs, names)
    write_atomic(out / COMPARISON_TABLE, table)
    plot_heatmaps(runs, out / COMPARISON_HEATMAPS, names)
    return table


def _default_names(paths: Sequence[str | Path]) -> list[str]:
    """The evaluation folder's name (`runs/eval-lm2/results.json` → `eval-lm2`), made unique."""
    names = []
    for path in paths:
        path = Path(path).resolve()
        name = path.name if path.is_dir() else path.parent.name
        names.append(name if name not in names else f"{name} ({len(names) + 1})")
    return names


# -- heatmaps ---------------------------------------------------------------------------------------------
def plot_heatmaps(runs: Sequence[dict], path: str | Path, names: Sequence[str] | None = None) -> Path:
    """Tasks × lengths accuracy heatmaps, one panel per results dict, side by side in one PNG: a red →
    yellow → green scale from 0 to 100 %, each cell annotated with its percentage, `OOM` or `—`."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.figure import Figure

    tasks = sorted({t for r in runs for t in r["tasks"]}, key=lambda t: int(t[2:]))
    lengths = sorted({n for r in runs for n in r["lengths"]}, key=parse_length)
    names = list(names) if names is not None else [short_name(r) for r in runs]
    width, height = 1.0 + 0.62 * max(len(lengths), 1), 1.3 + 0.42 * max(len(tasks), 1)
    figure = Figure(figsize=(width * len(runs) + 1.0, height), layout="constrained")
    FigureCanvasAgg(figure)
    colours = LinearSegmentedColormap.from_list("accuracy", ACCURACY_COLOURS)
    colours = colours.with_extremes(bad="#d9d9d9")  # OOM and missing cells
    axes = figure.subplots(1, len(runs), squeeze=False)[0]
    image = None
    for ax, name, results in zip(axes, names, runs, strict=True):
        values = [[_percent(results, t, n) for n in lengths] for t in tasks]
        image = ax.imshow(values, cmap=colours, vmin=0, vmax=100, aspect="auto")
        for i, task in enumerate(tasks):
            for j, length in enumerate(lengths):
                text = cell_text(results, task, length)
                ax.text(j, i, text if text in ("OOM", MISSING) else f"{float(text):.0f}", ha="center",
                        va="center", fontsize=9)  # fmt: skip
        ax.set_xticks(range(len(lengths)), lengths)
        ax.set_yticks(range(len(tasks)), tasks)
        ax.set_xlabel("context length")
        ax.set_title(f"{name}\nmetric: {results['metric']}", fontsize=9)
    if image is not None:
        figure.colorbar(image, ax=list(axes), label="accuracy (%)", shrink=0.9)
    return save_atomic(path, lambda tmp: figure.savefig(tmp, dpi=120))


def _percent(results: dict, task: str, length: str) -> float:
    score = _score(results, task, length)
    return math.nan if score is None else 100 * score
