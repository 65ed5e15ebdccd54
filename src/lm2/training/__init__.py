"""Training: loops over well-named components (data, model, optimizer, checkpoint, metrics)."""
