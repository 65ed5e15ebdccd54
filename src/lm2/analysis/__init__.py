"""Analysis of trained models: memory inspection (`lm2.analysis.inspect`). See docs/ecosystem.md."""
