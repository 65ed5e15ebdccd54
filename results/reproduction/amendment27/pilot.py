"""docs/reproduction.md, amendment 27: the delta write taken in order ((BQ0), `memory_write="sequential"`) beside the
delta write ((BL0)), both after amendment 20's recipe from (VS0)'s backbone, seed 0, on amendment 26's two splits at
0k: the 1,000 qa1 test questions by where the supporting fact stands (the question's segment or an earlier one,
`zero_k.py`), and the 10,000 training questions whose fact lies in an earlier segment, "crowded" (that segment also
holds an older fact about the asked person) or "alone" (`order.py`), each by the study's tie rule.

Usage: python results/reproduction/amendment27/pilot.py   (answers kept in pilot.json beside this file)"""

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "amendment26"))

import order  # noqa: E402
import zero_k  # noqa: E402

from lm2.evaluation.study import interval_order  # noqa: E402
from lm2.files import write_atomic  # noqa: E402

OUT = HERE / "pilot.json"
MODELS = {
    "BL0 (delta)": HERE.parent / "amendment20/run-BL0/model",
    "BQ0 (sequential)": HERE.parent / "amendment20/run-BQ0/model",
}


def main() -> None:
    store = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for name, folder in MODELS.items():
        if store.get(name, {}).get("model") != str(folder):
            print(f"answering {name} ({folder})", flush=True)
            store[name] = {
                "model": str(folder),
                "test": zero_k.answer(str(folder), 1000),
                "train": order.answer(folder),
            }
            write_atomic(OUT, json.dumps(store) + "\n")
    a, b = MODELS
    print("test split, 0k: | model | all | in the question's segment | in an earlier segment |")
    groups = {name: zero_k.groups(store[name]["test"]) for name in MODELS}
    for name in MODELS:
        cells = [
            f"{100 * acc:.1f} [{100 * lo:.0f}, {100 * hi:.0f}] (n {n})" for acc, lo, hi, n in groups[name].values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        f"{b} against {a}: " + ", ".join(f"{g} {interval_order(groups[b][g][:3], groups[a][g][:3])}" for g in groups[a])
    )
    print("\ntraining split, 0k, fact in an earlier segment:")
    print("| model | alone | crowded | order | wrong crowded answers naming an older place |")
    for name in MODELS:
        print(f"| {name} | {order.row([store[name]['train']])} |")
    crowded = {}
    for name in MODELS:
        record = store[name]["train"]
        hits = [c for c, w in zip(record["correct"], record["where"], strict=True) if w == "crowded"]
        crowded[name] = (sum(hits) / len(hits), *zero_k.wilson(sum(hits), len(hits)))
    print(f"crowded: {b} {interval_order(crowded[b], crowded[a])} {a}")


if __name__ == "__main__":
    main()
