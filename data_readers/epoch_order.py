"""The order a reader reads its files in: one permutation per epoch, sharded across workers.

Epoch ``e`` reads the files in a permutation derived from ``(seed, e)`` (reproducible, different
each epoch). With ``num_shards > 1`` every worker computes the same permutation and keeps positions
``shard_index, shard_index + num_shards, ...`` of it, so the shards of an epoch are disjoint and
together complete (this needs the same explicit ``seed`` on every worker). Class-balanced sampling
(``balanced=True``) draws as many files as there are, the same number (within one) from every
non-empty class, cycling through each class's files in a fresh random order.

Batch ``i`` of an epoch holds positions ``[i * batch_size, (i + 1) * batch_size)`` of the shard's
order, so a shard of ``n`` positions has ``ceil(n / batch_size)`` batches (``floor`` with
``drop_remainder``), whatever the files hold.
"""

import collections
import threading

import numpy as np

from data_readers.checks import check_non_negative_int


def check_epoch(epoch):
    """Returns ``epoch`` as an int >= 0, or raises ``ValueError`` naming it."""
    return check_non_negative_int(epoch, "epoch")


class EpochOrder:
    """The reading order of every epoch of one shard.

    Args:
        labels: int32 class index per file (-1 when unlabelled); used by ``balanced``.
        num_classes: the number of classes.
        seed: int >= 0.
        shuffle: a fresh permutation per epoch; False keeps the listed order.
        balanced: class-balanced draws (see the module docstring).
        num_shards: workers reading disjoint parts of each epoch.
        shard_index: this worker's part.
    """

    def __init__(self, labels, num_classes, *, seed, shuffle, balanced, num_shards, shard_index):
        self.labels = labels
        self.num_classes = num_classes
        self.seed = seed
        self.shuffle = shuffle
        self.balanced = balanced
        self.num_shards = num_shards
        self.shard_index = shard_index

    @property
    def shard_length(self):
        """The number of positions this shard reads per epoch."""
        return len(range(self.shard_index, len(self.labels), self.num_shards))

    def num_batches(self, batch_size, drop_remainder):
        """Batches per epoch of this shard."""
        if drop_remainder:
            return self.shard_length // batch_size
        return -(-self.shard_length // batch_size)

    def indices(self, epoch):
        """Returns the int64 file indices this shard reads in ``epoch``, in reading order."""
        epoch = check_epoch(epoch)
        count = len(self.labels)
        rng = np.random.default_rng([self.seed, epoch])
        if self.balanced:
            order = self._balanced_draw(count, rng)
        elif self.shuffle:
            order = rng.permutation(count)
        else:
            order = np.arange(count)
        return order[self.shard_index :: self.num_shards]

    def _balanced_draw(self, count, rng):
        members = [np.flatnonzero(self.labels == c) for c in range(self.num_classes)]
        members = [m for m in members if len(m)]
        quotas = np.full(len(members), count // len(members))
        quotas[rng.permutation(len(members))[: count % len(members)]] += 1
        drawn = []
        for files, quota in zip(members, quotas):
            cycles = -(-quota // len(files))
            drawn.append(np.concatenate([rng.permutation(files) for _ in range(cycles)])[:quota])
        order = np.concatenate(drawn)
        rng.shuffle(order)
        return order


class RecentOrders:
    """The orders of the last few epochs, computed once each (thread-safe), for faces that address
    batches by ``(epoch, index)`` from several threads."""

    def __init__(self, order, keep=2):
        self._order = order
        self._keep = keep
        self._orders = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, epoch):
        with self._lock:
            order = self._orders.get(epoch)
            if order is None:
                order = self._orders[epoch] = self._order.indices(epoch)
                while len(self._orders) > self._keep:
                    self._orders.popitem(last=False)
            return order
