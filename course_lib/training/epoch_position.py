"""Where a trainer is inside an epoch, so that a run stopped part-way goes on from the same batch.

A fit can end in the middle of an epoch: Ctrl-C, a divergence, an error, or a callback that saves a
checkpoint after some update. The next fit (of the same trainer, or of a fresh one that loaded the
checkpoint) finishes that epoch with the batches it had not trained, in the same order, instead of
starting the epoch again with a new shuffle (which would train some batches twice and others never).

In one process the epoch's iterator simply goes on; the batches of an update that was cut short are
dealt again first. From a checkpoint, the epoch's batches are dealt again from the random state the
epoch started with and the ones already trained are skipped, which deals the same batches for any
loader whose order comes from the generators ``random_state`` captures: ``DeviceLoader``, a
``DataLoader`` (with or without its own generator), a list.
"""
from __future__ import annotations

import itertools

from . import random_state


class EpochPosition:
    """The batches of the current epoch trained so far (``done``), and how to deal the rest."""

    def __init__(self):
        self.loader_state = None  # the loader's generator state from a checkpoint, applied at the next fit
        self.reset()

    def reset(self) -> None:
        """At an epoch boundary: nothing of the next epoch dealt yet."""
        self.done = 0            # batches of this epoch trained, in completed updates
        self.pending = []        # batches dealt since the last completed update
        self.start_rng = None    # every generator's state when the epoch started (random_state.capture)
        self._iterator = self._loader = None

    @property
    def started(self) -> bool:
        return self.done > 0 or bool(self.pending) or self._iterator is not None

    def batches(self, loader):
        """Yield the batches of this epoch still to train, each kept in ``pending`` until its update is done."""
        if self.loader_state is not None and random_state.loader_generator(loader) is not None:
            random_state.loader_generator(loader).set_state(self.loader_state)
        self.loader_state = None
        if not self.started:
            self.start_rng = random_state.capture(loader)
            self._iterator, self._loader = iter(loader), loader
        elif self._iterator is None or self._loader is not loader:  # resumed: deal the epoch again
            self._iterator, self._loader, self.pending = self._deal_again(loader), loader, []
        replay, self.pending = self.pending, []
        for batch in itertools.chain(replay, self._iterator):
            self.pending.append(batch)
            yield batch

    def update_done(self) -> None:
        """The pending batches made a completed update."""
        self.done += len(self.pending)
        self.pending = []

    def _deal_again(self, loader):
        now = random_state.capture()
        random_state.restore(self.start_rng, loader)  # the loader deals as it did when the epoch started
        iterator = iter(loader)
        for skipped in range(self.done):
            if next(iterator, None) is None:
                raise ValueError(f"cannot go on part-way through the epoch: train_loader deals only {skipped} batches, "
                                 f"{self.done} were already trained; pass the loader the run was started with")
        random_state.restore(now)  # dropout and the rest go on from where they were
        return iterator

    def state_dict(self, loader) -> dict:
        generator = random_state.loader_generator(loader)
        if self.started and self.done == 0:  # nothing of this epoch trained yet: deal it again from its start
            loader_state = self.start_rng.get("loader")
        else:
            loader_state = generator.get_state() if generator is not None else None
        return {"done": self.done, "start_rng": self.start_rng if self.done else None, "loader_state": loader_state}

    def load_state_dict(self, state: dict) -> None:
        self.reset()
        self.done, self.start_rng, self.loader_state = state["done"], state["start_rng"], state["loader_state"]
