"""Datasets as tensors, offline first.

One module per concern; the names chapters use are gathered here, so
``from utils.data import load_fashion_mnist, TensorBatches`` is all a chapter needs.
"""

from utils.data.batches import TensorBatches, random_flip_and_crop
from utils.data.fashion_mnist import FASHION_CLASSES, FashionMNIST, load_fashion_mnist
from utils.data.files import CorruptFileError, DataNotFoundError
from utils.data.sequence_tasks import adding_problem
from utils.data.shapes import SHAPE_CLASSES, make_shapes
from utils.data.text import load_text_corpus
from utils.data.toy import load_digits, make_circles, make_moons, make_spirals

__all__ = [
    "FASHION_CLASSES", "SHAPE_CLASSES", "CorruptFileError", "DataNotFoundError", "FashionMNIST",
    "TensorBatches", "adding_problem", "load_digits", "load_fashion_mnist", "load_text_corpus",
    "make_circles", "make_moons", "make_shapes", "make_spirals", "random_flip_and_crop",
]
