"""ssl_teach: minimal, tested reference code for the book *Learning from Few Labels*.

One idea per module: ``config`` (profiles, seeding), ``data`` (in-memory datasets, the split),
``augment`` (batched weak/strong views), ``models``, ``ema``, ``ramps``, ``methods`` (one file
per method), ``train`` (the one training loop), ``checkpoint``, ``metrics`` and ``plots``.
"""

__version__ = "0.2.0"
