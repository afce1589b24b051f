"""The training loop, batching and device handling."""
