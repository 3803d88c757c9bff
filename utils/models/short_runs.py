"""Cutting a recipe's run short: the tests train each recipe for a few steps only."""


class FirstBatches:
    """The first ``count`` batches of ``batches``, as one short epoch."""

    def __init__(self, batches, count):
        self.batches, self.count = batches, count

    def __len__(self):
        return min(self.count, len(self.batches))

    def __iter__(self):
        for index, batch in enumerate(self.batches):
            if index == self.count:
                return
            yield batch
