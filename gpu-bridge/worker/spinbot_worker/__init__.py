"""MySpinBot GPU/CPU worker: consumes render and training jobs from BullMQ, writes media to storage."""

__all__ = ["__version__"]
__version__ = "0.1.0"
