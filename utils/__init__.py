"""Shared code for the book's chapters.

Import the part you need, e.g. ``from utils.env import setup`` or
``from utils.data import load_fashion_mnist``. Nothing is re-exported here, so
every name a chapter uses says which module it lives in.
"""
