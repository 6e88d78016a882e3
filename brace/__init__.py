"""brace: Baseten's deployment lifecycle for Truss-format models, on one machine."""

__version__ = "0.1.0"
