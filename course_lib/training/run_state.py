"""The state of a training run, in one object the ``Trainer`` owns (``trainer.state``).

It holds everything a fit changes besides the model, the optimizer, the scheduler and the callbacks:
the counters, the history (with how the last fit ended), the place in the epoch and the update being
accumulated. A checkpoint is this state plus theirs. A fit cut short anywhere (Ctrl-C, an error, a
divergence) goes on from it as if nothing had happened, by three rules:

- An epoch counts when it is complete: trained, validated and logged. A fit cut during validation
  validates the same epoch again.
- An update counts when the optimizer has taken it. Each batch is kept, with the state of the random
  generators right after it was dealt, until its update is done; a fit cut in the middle of an update
  forgets its gradient, and the next fit replays its batches from those states, so dropout draws the
  same masks.
- The rest of an epoch is dealt as it would have been. In the same process the epoch's iterator goes
  on. From a checkpoint (or given another loader object) the epoch is dealt again from the random state
  it started with, and the batches already trained are skipped: the same batches for any loader whose
  order comes from the generators :mod:`random_state` captures (``DeviceLoader``, a ``DataLoader``, a
  list), provided it draws nothing from them after its first batch (random transforms in a ``Dataset``
  do; such a run goes on exactly in its own process, and a checkpoint saved part-way through its epoch
  is refused). A position counts batches, so a loader of another shape part-way through is refused too.

Keeping a random state costs time at every batch (torch's about a microsecond, and more in a busy loop;
Python's and NumPy's tens), so the first update of each fit shows which generators a step draws from, and
only those are kept per batch (a step that starts drawing later in a fit is not noticed). A model without
dropout or other noise draws from none: then the state is taken once, when a fit is cut or a checkpoint
saved in the middle of an update, and it is the same state, as nothing drew since the batch was dealt.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from . import random_state
from .history import History


@dataclass
class Group:
    """The update being accumulated: ``accumulation_steps`` micro-batches make one."""

    micro_batches: int = 0  # micro-batches whose backward is done
    full_size: int = 0  # samples in a full group of batches like its first one
    samples: int = 0  # samples in the micro-batches done
    loss: float = 0.0  # their loss, summed over their samples
    metrics: dict = field(default_factory=dict)  # their training metrics, summed over their samples (train_metrics)

    def clear(self) -> None:
        self.micro_batches, self.full_size, self.samples, self.loss = 0, 0, 0, 0.0
        if self.metrics:
            self.metrics = {}


class EpochPosition:
    """The batches of this epoch trained so far, those dealt for the update under way, and how to deal the rest."""

    def __init__(self):
        self.loader_state = None  # the loader's own generator from a checkpoint, set when the next fit deals
        self.deal_draws = False  # the loader was seen drawing from the global generators after its first batch
        self.loader_shape = None  # batches, batch size and samples of the loader the position counts in
        self._probed = None  # the loader last checked for deal_draws
        self.keep_torch = None  # keep torch's generators per batch (None: until an update shows whether it draws)
        self.keep_all = None  # keep Python's and NumPy's generators per batch too (None: until an update shows)
        self.reset()

    def reset(self) -> None:
        """At an epoch boundary: nothing of the next epoch dealt yet."""
        self.done = 0  # batches of this epoch in complete updates
        self.pending = []  # (batch, random state right after it was dealt) of the update under way
        self.epoch_rng = None  # torch's and the loader's generators just before the epoch's first batch was dealt
        self.go_on_rng = None  # from a checkpoint: the random state the next batch starts from
        self._iterator = self._loader = None

    @property
    def started(self) -> bool:
        return self.epoch_rng is not None

    def check_can_go_on(self, loader, epoch: int) -> None:
        """Refuse, before any change, a loader that cannot deal the rest of a part-way epoch exactly."""
        if not self.started:
            return
        shape = loader_shape(loader)
        differ = {
            k: (v, shape[k])
            for k, v in (self.loader_shape or {}).items()
            if None not in (v, shape[k]) and v != shape[k]
        }
        if differ:
            saved = ", ".join(f"{k} {a} (now {b})" for k, (a, b) in differ.items())
            raise ValueError(
                f"train_loader does not fit a run part-way through epoch {epoch}: its {self.done} trained "
                f"batches were counted in a loader of {saved}, so the position would mean other samples. "
                "Pass a loader like the one the run was started with, or go on from an epoch's end"
            )
        if self.deal_draws and self.done and loader is not self._loader:
            raise ValueError(
                f"the run is part-way through epoch {epoch}, and train_loader draws from the global random "
                "generators as it deals batches (random transforms in a Dataset?), so the rest of the epoch "
                "cannot be dealt again exactly: go on from a checkpoint saved at an epoch's end, or give the "
                "loader's randomness its own generator"
            )

    def deal(self, loader):
        """Yield the batches of this epoch still to train: the update under way's first, replayed from the random
        states they were dealt in, then the rest."""
        if self.loader_state is not None and random_state.loader_generator(loader) is not None:
            random_state.loader_generator(loader).set_state(self.loader_state)
        self.loader_state = None
        if not self.started:
            self.epoch_rng = random_state.capture(loader, torch_only=True)  # all that dealing may draw from
            self._iterator, self._loader = self._probed_deal(loader), loader
        elif loader is not self._loader:
            self._iterator, self._loader = self._deal_again(loader), loader
        replay, self.pending = self.pending, []
        for batch, rng in replay:
            random_state.restore(rng)
            self.pending.append((batch, rng))
            yield batch
        for batch in self._iterator:
            keep = self.keep_torch is not False or self.deal_draws  # asked per batch: the first update decides
            self.pending.append((batch, random_state.capture(torch_only=self.keep_all is False) if keep else None))
            yield batch

    def hold(self) -> None:
        """Give the update under way's batches the random state they were dealt in, where it was not kept per
        batch: nothing has drawn since (see the module's docstring), so it is the state now."""
        if self.pending and self.pending[-1][1] is None:
            now = random_state.capture()
            self.pending = [(batch, now if rng is None else rng) for batch, rng in self.pending]

    def _probed_deal(self, loader):
        """``iter(loader)``, with the epoch's second batch dealt right after its first (in every epoch alike): the
        first time a loader deals, that shows whether dealing a batch draws from the global generators."""
        iterator, probe = iter(loader), self._probed is not loader
        first = next(iterator, None)
        before = random_state.capture() if probe else None
        second = next(iterator, None)
        if probe:
            self._probed, self.deal_draws = (
                loader,
                self.deal_draws or not random_state.same(before, random_state.capture()),
            )
        return itertools.chain([batch for batch in (first, second) if batch is not None], iterator)

    def _deal_again(self, loader):
        """The epoch dealt again from its start, less the batches trained; then on from where the run was."""
        go_on = self.pending[0][1] if self.pending else self.go_on_rng or random_state.capture()
        self.pending, self.go_on_rng = [], None
        random_state.restore(self.epoch_rng, loader)
        iterator = iter(loader)
        for skipped in range(self.done + 1):  # and one more: a DataLoader draws its order as it deals its first batch
            batch = next(iterator, None)
            if batch is None and skipped < self.done:
                raise ValueError(
                    f"cannot go on part-way through the epoch: train_loader deals only {skipped} batches, "
                    f"{self.done} were already trained; pass the loader the run was started with"
                )
        random_state.restore(go_on)
        if batch is not None:
            yield batch
            yield from iterator

    def update_done(self) -> None:
        """The pending batches made a complete update. The first one of a fit also shows which generators a step
        draws from (torch's, Python's or NumPy's): those are kept per batch from then on."""
        first = self.pending[0][1]
        if (self.keep_all is None or self.keep_torch is None) and first is not None and "python" in first:
            now = random_state.capture()
            self.keep_torch = self.keep_torch or not random_state.same_torch(first, now)
            self.keep_all = self.keep_all or not random_state.same_outside_torch(first, now)
        self.done += len(self.pending)
        self.pending = []

    def go_on_state(self, loader) -> dict:
        """Plain data for a checkpoint (the pending batches are dealt again from it, not stored)."""
        generator = random_state.loader_generator(loader)
        started = self.started
        self.hold()
        return {
            "done": self.done,
            "epoch_rng": self.epoch_rng,
            "go_on_rng": self.pending[0][1] if self.pending else self.go_on_rng,
            "loader_state": (self.epoch_rng.get("loader") if started else generator.get_state() if generator else None),
            "deal_draws": self.deal_draws,
            "loader_shape": self.loader_shape,
            "keep_torch": self.keep_torch,
            "keep_all": self.keep_all,
        }

    def load(self, state: dict) -> None:
        self.reset()
        self.done, self.epoch_rng, self.go_on_rng = state["done"], state["epoch_rng"], state["go_on_rng"]
        self.loader_state = None if self.started else state["loader_state"]
        self.deal_draws, self.loader_shape = state["deal_draws"], state["loader_shape"]
        self.keep_torch, self.keep_all = state.get("keep_torch"), state["keep_all"]


def loader_shape(loader) -> dict:
    """Its batches per epoch, batch size and samples, where it says (``None`` where it does not)."""

    def size(get):
        try:
            return get()
        except Exception:  # no length, no such attribute, a batch of another shape
            return None

    batches = size(lambda: len(loader))
    if isinstance(loader, (list, tuple)):
        sizes = size(lambda: [len(batch[-1]) for batch in loader])
        return {"batches": batches, "batch_size": sizes[0] if sizes else None, "samples": sum(sizes) if sizes else None}
    dataset = getattr(loader, "dataset", None)
    samples = size(lambda: len(dataset)) if dataset is not None else size(lambda: len(loader.X))
    return {"batches": batches, "batch_size": getattr(loader, "batch_size", None), "samples": samples}


class RunState:
    """Where a run is and what it has logged: see the module's docstring."""

    COUNTERS = ("epoch", "global_step", "updates_scheduled", "elapsed", "first_loss")

    def __init__(self):
        self.epoch = 0  # epochs complete; fit(num_epochs=N) trains until epoch == N
        self.global_step = 0  # updates complete
        self.updates_scheduled = 0  # updates whose "step" schedule step is taken: global_step, one less in on_batch_end
        self.elapsed = 0.0  # seconds spent in fit, over every call and resume
        self.first_loss = None  # the divergence rule's reference
        self.stop_reason = ""  # set by Trainer.request_stop: the fit ends after this epoch
        self.history = History()  # what was logged, and how the last fit ended (history.status)
        self.epoch_sums = {}  # this epoch's loss and metric sums, over its complete updates
        self.position = EpochPosition()
        self.group = Group()

    def count_update(self, group: Group) -> None:
        """The group's update is taken: its samples, loss and metrics join the epoch's sums; the group starts anew."""
        sums = self.epoch_sums
        sums["count"] = sums.get("count", 0) + group.samples
        sums["loss"] = sums.get("loss", 0.0) + group.loss
        for name, value in group.metrics.items():
            sums[name] = sums.get(name, 0.0) + value
        group.clear()

    def state_dict(self, loader) -> dict:
        return {
            "counters": {name: getattr(self, name) for name in self.COUNTERS},
            "history": self.history.to_dict(),
            "epoch_sums": dict(self.epoch_sums),
            "position": self.position.go_on_state(loader),
        }

    def load_state_dict(self, state: dict) -> None:
        for name in self.COUNTERS:
            setattr(self, name, state["counters"][name])
        self.history = History.from_dict(state["history"])
        self.epoch_sums = dict(state["epoch_sums"])
        self.group.clear()
        self.position.load(state["position"])
