"""Data: bAbI, background text, BABILong samples, tokenizer, metric, synthetic tasks."""
