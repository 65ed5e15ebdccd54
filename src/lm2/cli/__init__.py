"""The `lm2` command line: one entry point, one module per subcommand."""
