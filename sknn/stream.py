"""Training on data larger than memory: chunks through ``partial_fit``, Parquet files.

A memory-mapped array (``np.memmap``, ``np.load(..., mmap_mode='r')``) needs
nothing from here: ``fit`` and ``predict`` read it one minibatch at a time.
"""

from sknn._input._stream import fit_batches, iter_parquet

__all__ = ["fit_batches", "iter_parquet"]
