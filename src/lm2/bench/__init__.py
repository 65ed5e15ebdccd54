"""Benchmarks behind `lm2 bench`: the cost of the memory, our backbone against Hugging Face Llama, long
inputs, training memory at length, and GPU throughput.

One module per benchmark family (`overhead`, `reference`, `length`, `train_memory`, `gpu`); `common` holds
the shared timing, memory and reporting helpers. Every function returns a JSON-ready dict and a Markdown
table; nothing here prints (the command line does). Times are only ever compared within one run, as ratios
of interleaved repetitions, because absolute CPU times on a shared machine mean little.
"""
