"""Offline side: datasets, losses and training loops that produce the shipped weights."""
