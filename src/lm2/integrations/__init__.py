"""Bridges between lm2 models and the tools around them: loading a saved model with its tokenizer
(`pretrained`), feeding inputs of any length in chunks (`stream`), Hugging Face Llama checkpoints
(`convert`) and lm-evaluation-harness (`lm_eval`, needs the `eval` extra). See docs/ecosystem.md.

Nothing here is imported by `import lm2`; each module is imported where it is used.
"""
