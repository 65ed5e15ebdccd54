"""docs/reproduction.md, amendment 27: the delta write taken in order ((BQ0), `memory_write="sequential"`) beside the
delta write ((BL0)), both after amendment 20's recipe from (VS0)'s backbone, seed 0 (amendment 27b: seed 1, (BQ1)
beside (BL1); amendment 28: the same pairs after amendment 21's steps on long inputs, (LBQ<seed>) beside (LBL<seed>),
and after amendment 23's, (XLBQ<seed>) beside (XLBL<seed>); a pair not yet trained is said so), on amendment 26's two
splits at
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
PAIRS = [  # (the one-step delta write, the ordered write) after amendment 20's recipe: amendment 27, then 27b
    (("BL0 (delta)", "amendment20/run-BL0/model"), ("BQ0 (sequential)", "amendment20/run-BQ0/model")),
    (("BL1 (delta)", "amendment20/run-BL1/model"), ("BQ1 (sequential)", "amendment20/run-BQ1/model")),
    *(((f"{p}L{seed} (delta)", f"amendment{a}/run-{p}L{seed}/model"),
       (f"{p}Q{seed} (sequential)", f"amendment{a}/run-{p}Q{seed}/model"))
      for a, p in (("21", "LB"), ("23", "XLB")) for seed in (0, 1)),  # amendment 28
]  # fmt: skip


def answered(store: dict, name: str, folder: Path) -> dict:
    if store.get(name, {}).get("model") != order.name_of(folder):
        print(f"answering {name} ({folder})", flush=True)
        test = zero_k.answer(order.name_of(folder), 1000)
        store[name] = {"model": order.name_of(folder), "test": test, "train": order.answer(folder)}
        write_atomic(OUT, json.dumps(store, separators=(",", ":")) + "\n")
    return store[name]


def compare(a: str, b: str, store: dict) -> None:
    print("\ntest split, 0k: | model | all | in the question's segment | in an earlier segment |")
    groups = {name: zero_k.groups(store[name]["test"]) for name in (a, b)}
    for name in (a, b):
        cells = [
            f"{100 * acc:.1f} [{100 * lo:.0f}, {100 * hi:.0f}] (n {n})" for acc, lo, hi, n in groups[name].values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        f"{b} against {a}: " + ", ".join(f"{g} {interval_order(groups[b][g][:3], groups[a][g][:3])}" for g in groups[a])
    )
    print("training split, 0k, fact in an earlier segment:")
    print("| model | alone | crowded | order | wrong crowded answers naming an older place |")
    for name in (a, b):
        print(f"| {name} | {order.row([store[name]['train']])} |")
    crowded = {name: order.group_accuracy([store[name]["train"]], "crowded")[:3] for name in (a, b)}
    print(f"crowded: {b} {interval_order(crowded[b], crowded[a])} {a}")


def main() -> None:
    store = json.loads(OUT.read_text()) if OUT.is_file() else {}
    for pair in PAIRS:
        folders = [HERE.parent / path for _, path in pair]
        if not all((folder / "config.json").is_file() for folder in folders):
            print(f"\n{pair[1][0]}: not run yet")
            continue
        for (name, _), folder in zip(pair, folders, strict=True):
            answered(store, name, folder)
        compare(pair[0][0], pair[1][0], store)


if __name__ == "__main__":
    main()
