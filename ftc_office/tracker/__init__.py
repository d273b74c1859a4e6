"""Trackers: reading rows with their cell references, and lossless write-back."""
