"""The training loop and its parts: the Trainer, callbacks, early stopping, checkpoints, history."""
