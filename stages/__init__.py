"""Thin Typer commands, one module per DVC stage; all work lives in the ``gsmoothface`` library."""
