"""Analysis of trained models: memory inspection (`lm2.analysis.inspect`, docs/ecosystem.md) and the bank
drift of LM2 models along a long text (`lm2.analysis.drift`, docs/reproduction.md)."""
