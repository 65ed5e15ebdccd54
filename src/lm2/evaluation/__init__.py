"""Evaluation: answering BABILong questions with a model and scoring the answers."""
