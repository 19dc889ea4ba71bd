"""Tiny random models of the real classes, saved with ``save_pretrained`` for the tests."""
