"""Bank drift (`lm2.analysis.drift`): the bank's row norms after every segment of a text, as one forward
over the whole text leaves them, and the files of a drift study."""

from __future__ import annotations

import json

import pytest
import torch

from lm2.analysis import drift
from tests.integrations.tiny_checkpoint import save_tiny_checkpoint, tiny_tokenizer


def test_bank_drift_records_the_bank_after_every_segment(tmp_path):
    model = save_tiny_checkpoint(tmp_path / "model", "lm2").eval()
    text = tmp_path / "book.txt"
    text.write_text("The old ship sailed along the quiet river while the children watched. " * 20)
    record = drift.drift(tmp_path / "model", text, 30)
    assert record["segment_length"] == 8 and record["tokens"] == [0, 8, 16, 24, 30]
    assert record["mean"][0] == pytest.approx(1.0)  # M_0: unit rows
    tokenizer = tiny_tokenizer()
    ids = tokenizer(text.read_text(), add_special_tokens=False)["input_ids"][:29]
    with torch.no_grad():  # the whole input in one call ends in the bank recorded after the last segment
        bank = model(torch.tensor([[tokenizer.bos_token_id, *ids]]).to(torch.long)).memory.memory[0]
    assert record["mean"][-1] == pytest.approx(bank.norm(dim=-1).mean().item(), rel=1e-4)
    assert drift.at_tokens(record, 7) == pytest.approx(1.0) and drift.at_tokens(record, 20) == record["mean"][2]


def test_bank_drift_writes_the_record_the_plot_and_the_table(tmp_path):
    save_tiny_checkpoint(tmp_path / "a" / "model", "lm2")
    save_tiny_checkpoint(tmp_path / "b" / "model", "lm2")  # the same bank size: told apart by folder
    text = tmp_path / "book.txt"
    text.write_text("The old ship sailed along the quiet river while the children watched. " * 40)
    table = drift.bank_drift([tmp_path / "a" / "model", tmp_path / "b" / "model"], text, tmp_path / "out", 100)
    records = json.loads((tmp_path / "out" / "bank_drift.json").read_text())["records"]
    assert list(records) == ["bank 8", "b, bank 8"]
    assert table == (tmp_path / "out" / "bank_drift.md").read_text() and table.startswith("| tokens read | 64 |")
    assert (tmp_path / "out" / "bank_drift.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="max_tokens=0"):
        drift.bank_drift([tmp_path / "a" / "model"], text, tmp_path / "out", 0)
