"""utils.data: Fashion-MNIST search order, downloads and bad files; batches; toy sets; text.

Real Fashion-MNIST comes from Debian's dataset-fashion-mnist package (or $FASHION_MNIST_DIR).
Tests of the search order and of broken files use small IDX files written here, in the
same format, so that each takes milliseconds; the download tests serve the real files
from an HTTP server on 127.0.0.1.
"""

import functools
import gzip
import hashlib
import http.server
import pathlib
import shutil
import socket
import threading

import matplotlib
import numpy as np
import pytest
import torch

import utils.data.text
from utils.data import (
    FASHION_CLASSES,
    CorruptFileError,
    DataNotFoundError,
    TensorBatches,
    fashion_mnist,
    load_digits,
    load_fashion_mnist,
    load_text_corpus,
    make_circles,
    make_moons,
    make_spirals,
    random_flip_and_crop,
)
from utils.data.files import CACHE_ENV_VAR
from utils.data.text import (
    SHAKESPEARE_ENV_VAR,
    TINY_SHAKESPEARE_BYTES,
    TINY_SHAKESPEARE_SHA256,
    TINY_SHAKESPEARE_START,
)
from utils.plot import plot_decision_boundary, show_images

matplotlib.use("Agg")
FILE_NAMES = list(fashion_mnist.CANONICAL_MD5)  # train images, train labels, test images, test labels
DEBIAN_DIR = fashion_mnist.DEBIAN_DIR  # kept: the `nowhere` fixture hides the module's copy


@pytest.fixture(scope="module")
def real():
    """The real dataset, loaded once for this module."""
    try:
        return load_fashion_mnist(download=False)
    except DataNotFoundError as exc:
        pytest.skip(f"no Fashion-MNIST on this machine: {exc}")


@pytest.fixture
def real_files():
    """The folder of Debian's real .gz files."""
    if any(not (DEBIAN_DIR / name).is_file() for name in FILE_NAMES):
        pytest.skip(f"Debian's dataset-fashion-mnist is not installed in {DEBIAN_DIR}")
    return DEBIAN_DIR


@pytest.fixture
def nowhere(monkeypatch, tmp_path):
    """No Fashion-MNIST anywhere: no Debian folder, an empty cache, no environment variables.

    Returns the cache folder the loader will use.
    """
    monkeypatch.setattr(fashion_mnist, "DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(fashion_mnist.PATH_ENV_VAR, raising=False)
    monkeypatch.delenv(fashion_mnist.URL_ENV_VAR, raising=False)
    monkeypatch.delenv(CACHE_ENV_VAR, raising=False)
    return tmp_path / "cache" / "dl-book" / "fashion-mnist"


def trust_as_canonical(folder, monkeypatch):
    """Make the MD5s of the files in ``folder`` the expected ones (fakes stand in for the real files)."""
    for name in FILE_NAMES:
        md5 = hashlib.md5((folder / name).read_bytes()).hexdigest()
        monkeypatch.setitem(fashion_mnist.CANONICAL_MD5, name, md5)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving a temporary folder; yields (folder, base URL)."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def _idx(array):
    """``array`` (uint8) in the IDX format."""
    header = bytes([0, 0, 8, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    return header + array.astype(np.uint8).tobytes()


def write_fake_fashion(folder, n_train, n_test=3, compress=True):
    """Four small, valid Fashion-MNIST-format files; returns the train labels written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(n_train)
    contents = {}
    for split, n in (("train", n_train), ("t10k", n_test)):
        contents[f"{split}-images-idx3-ubyte"] = _idx(rng.integers(0, 256, (n, 28, 28)))
        contents[f"{split}-labels-idx1-ubyte"] = _idx(rng.integers(0, 10, n))
    for name, data in contents.items():
        if compress:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return np.frombuffer(contents["train-labels-idx1-ubyte"][8:], np.uint8)


# --- the real dataset ---------------------------------------------------------------------------

def test_real_fashion_mnist_has_the_documented_shapes_ranges_and_labels(real):
    assert real.train_x.shape == (60000, 1, 28, 28) and real.test_x.shape == (10000, 1, 28, 28)
    assert real.train_x.dtype == torch.float32 and real.train_y.dtype == torch.int64
    assert real.train_x.min() == 0 and real.train_x.max() == 1
    assert torch.equal(real.train_y.bincount(), torch.full((10,), 6000))
    assert torch.equal(real.test_y.bincount(), torch.full((10,), 1000))
    assert real.train_y[:5].tolist() == [9, 0, 0, 3, 0]  # the published first labels
    assert len(FASHION_CLASSES) == 10 and FASHION_CLASSES[9] == "Ankle boot"


def test_real_fashion_mnist_works_with_a_dataloader(real):
    train, test = real.as_datasets()
    assert len(train) == 60000 and len(test) == 10000
    xb, yb = next(iter(torch.utils.data.DataLoader(test, batch_size=32)))
    assert torch.equal(xb, real.test_x[:32]) and torch.equal(yb, real.test_y[:32])


def test_show_images_draws_each_image_with_its_class_name(real):
    fig = show_images(real.train_x[:10], real.train_y[:10], ncols=4, class_names=FASHION_CLASSES)
    drawn = [axis for axis in fig.axes if axis.images]
    assert len(drawn) == 10 and len(fig.axes) == 12  # 3 rows of 4, two left empty
    assert drawn[0].get_title() == "Ankle boot" and drawn[3].get_title() == "Dress"
    assert np.array_equal(drawn[1].images[0].get_array(), real.train_x[1, 0].numpy())


# --- where the files are looked for -------------------------------------------------------------

def test_search_order_is_path_then_env_var_then_debian_then_cache(nowhere, tmp_path, monkeypatch):
    write_fake_fashion(tmp_path / "explicit", n_train=2)
    write_fake_fashion(tmp_path / "from-env", n_train=3)
    write_fake_fashion(fashion_mnist.DEBIAN_DIR, n_train=4)
    write_fake_fashion(nowhere, n_train=5)
    trust_as_canonical(nowhere, monkeypatch)
    monkeypatch.setenv(fashion_mnist.PATH_ENV_VAR, str(tmp_path / "from-env"))
    assert len(load_fashion_mnist(path=tmp_path / "explicit", download=False).train_y) == 2
    assert len(load_fashion_mnist(download=False).train_y) == 3
    monkeypatch.delenv(fashion_mnist.PATH_ENV_VAR)
    assert len(load_fashion_mnist(download=False).train_y) == 4
    shutil.rmtree(fashion_mnist.DEBIAN_DIR)
    assert len(load_fashion_mnist(download=False).train_y) == 5


def test_an_explicit_folder_is_used_alone_and_its_gaps_named(nowhere, tmp_path):
    write_fake_fashion(nowhere, n_train=5)  # a complete cache must not hide the mistake
    folder = tmp_path / "explicit"
    write_fake_fashion(folder, n_train=2)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataNotFoundError, match="t10k-labels-idx1-ubyte.gz") as error:
        load_fashion_mnist(path=folder)
    assert str(folder) in str(error.value)


def test_uncompressed_files_load_like_gzipped_ones(nowhere, tmp_path):
    labels = write_fake_fashion(tmp_path / "raw", n_train=6, compress=False)
    data = load_fashion_mnist(path=tmp_path / "raw")
    assert data.train_y.tolist() == labels.tolist()
    assert data.train_x.shape == (6, 1, 28, 28) and data.test_x.shape == (3, 1, 28, 28)


def test_missing_everywhere_says_how_to_get_the_data(nowhere, server):
    _, url = server  # serves an empty folder: every download is a 404
    with pytest.raises(DataNotFoundError) as error:
        load_fashion_mnist(base_url=url)
    message = str(error.value)
    for hint in ("apt install dataset-fashion-mnist", "FASHION_MNIST_DIR", url, "404", str(nowhere)):
        assert hint in message
    with pytest.raises(DataNotFoundError, match="download=False"):
        load_fashion_mnist(download=False)


def test_an_unreachable_server_is_reported_as_missing_data(nowhere):
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DataNotFoundError, match="apt install dataset-fashion-mnist"):
        load_fashion_mnist(base_url=f"http://127.0.0.1:{port}/")


# --- downloads ----------------------------------------------------------------------------------

def test_download_fills_the_cache_with_checked_files(real, real_files, nowhere, server, monkeypatch):
    root, url = server
    for name in FILE_NAMES:
        shutil.copy(real_files / name, root / name)
    # Debian recompressed the canonical files, so expect the MD5s of the files served here.
    for name in FILE_NAMES:
        served_md5 = hashlib.md5((root / name).read_bytes()).hexdigest()
        monkeypatch.setitem(fashion_mnist.CANONICAL_MD5, name, served_md5)
    monkeypatch.setenv(fashion_mnist.URL_ENV_VAR, url)
    downloaded = load_fashion_mnist()
    assert sorted(p.name for p in nowhere.iterdir()) == sorted(FILE_NAMES)  # no .part files left
    for mine, reference in zip(downloaded, real):
        assert torch.equal(mine, reference)
    for name in FILE_NAMES:
        (root / name).unlink()  # the server has nothing now: a second load must use the cache
    assert torch.equal(load_fashion_mnist().test_y, real.test_y)


def test_a_cached_file_whose_md5_changed_is_refused_and_removed(nowhere, monkeypatch):
    write_fake_fashion(nowhere, n_train=6)
    trust_as_canonical(nowhere, monkeypatch)
    assert len(load_fashion_mnist(download=False).train_y) == 6
    labels = nowhere / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(labels.read_bytes())
    labels.write_bytes(gzip.compress(raw[:8] + bytes((b + 1) % 10 for b in raw[8:])))  # shifted labels
    with pytest.raises(CorruptFileError, match="train-labels-idx1-ubyte.gz has MD5 .* it was deleted"):
        load_fashion_mnist(download=False)
    assert not labels.exists()


def test_an_unwritable_cache_is_named_with_the_way_out(nowhere, server, monkeypatch):
    _, url = server

    def permission_denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "touch", permission_denied)
    with pytest.raises(DataNotFoundError) as error:
        load_fashion_mnist(base_url=url)
    message = str(error.value)
    assert f"{nowhere} is not writable (Permission denied)" in message
    assert CACHE_ENV_VAR in message and "path=" in message and "go online" not in message


def test_the_cache_folder_can_be_moved_by_an_environment_variable(nowhere, tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "elsewhere"))
    write_fake_fashion(tmp_path / "elsewhere" / "fashion-mnist", n_train=7)
    trust_as_canonical(tmp_path / "elsewhere" / "fashion-mnist", monkeypatch)
    assert len(load_fashion_mnist(download=False).train_y) == 7


def test_a_download_with_the_wrong_md5_is_refused_and_not_kept(real_files, nowhere, server):
    root, url = server
    for name in FILE_NAMES:  # Debian's recompressed files do not match the canonical MD5s
        shutil.copy(real_files / name, root / name)
    with pytest.raises(CorruptFileError, match="train-images-idx3-ubyte.gz") as error:
        load_fashion_mnist(base_url=url)
    assert fashion_mnist.CANONICAL_MD5["train-images-idx3-ubyte.gz"] in str(error.value)
    assert not nowhere.exists() or not any(nowhere.iterdir())


# --- broken files -------------------------------------------------------------------------------

def _broken_copy(tmp_path, name, damage):
    """A fake dataset folder whose file ``name`` went through ``damage(bytes) -> bytes``."""
    folder = tmp_path / "broken"
    write_fake_fashion(folder, n_train=8)
    path = folder / name
    path.write_bytes(damage(path.read_bytes()))
    return folder, path


def test_a_truncated_real_file_is_named(real_files, tmp_path):
    folder = tmp_path / "truncated"
    folder.mkdir()
    for name in FILE_NAMES:
        (folder / name).symlink_to(real_files / name)
    (folder / "train-images-idx3-ubyte.gz").unlink()
    data = (real_files / "train-images-idx3-ubyte.gz").read_bytes()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(data[:len(data) // 2])
    with pytest.raises(CorruptFileError, match="train-images-idx3-ubyte.gz.*truncated or corrupt"):
        load_fashion_mnist(path=folder)


def test_corrupt_compressed_bytes_are_named(nowhere, tmp_path):
    def flip_middle_bytes(data):
        middle = len(data) // 2
        return data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 16]) + data[middle + 16:]

    folder, path = _broken_copy(tmp_path, "t10k-images-idx3-ubyte.gz", flip_middle_bytes)
    with pytest.raises(CorruptFileError, match="cannot be decompressed") as error:
        load_fashion_mnist(path=folder)
    assert str(path) in str(error.value)


def test_a_wrong_magic_number_is_named(nowhere, tmp_path):
    images_magic = bytes([0, 0, 8, 3])
    folder, path = _broken_copy(tmp_path, "train-labels-idx1-ubyte.gz",
                                lambda data: gzip.compress(images_magic + gzip.decompress(data)[4:]))
    with pytest.raises(CorruptFileError, match="magic number 00000801") as error:
        load_fashion_mnist(path=folder)
    assert str(path) in str(error.value)


def test_data_shorter_than_its_header_says_is_named(nowhere, tmp_path):
    folder, path = _broken_copy(tmp_path, "t10k-images-idx3-ubyte.gz",
                                lambda data: gzip.compress(gzip.decompress(data)[:-100]))
    with pytest.raises(CorruptFileError, match="truncated") as error:
        load_fashion_mnist(path=folder)
    assert str(path) in str(error.value)


def test_images_and_labels_of_different_lengths_are_refused(nowhere, tmp_path):
    folder = tmp_path / "mismatched"
    write_fake_fashion(folder, n_train=8)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(7, np.uint8))))
    with pytest.raises(CorruptFileError, match="8 images but 7 labels"):
        load_fashion_mnist(path=folder)


# --- TensorBatches ------------------------------------------------------------------------------

def test_batches_cover_every_example_once_per_epoch_in_a_new_order():
    x, y = torch.arange(100.0).view(100, 1), torch.arange(100)
    batches = TensorBatches(x, y, batch_size=32, seed=0)
    assert len(batches) == 4
    epochs = [[yb for _, yb in batches] for _ in range(2)]
    assert [len(yb) for yb in epochs[0]] == [32, 32, 32, 4]
    orders = [torch.cat(epoch) for epoch in epochs]
    for order in orders:
        assert torch.equal(order.sort().values, y)
        assert not torch.equal(order, y)
    assert not torch.equal(orders[0], orders[1])
    for xb, yb in batches:
        assert torch.equal(xb[:, 0].long(), yb)  # x and y stay paired


def test_batches_repeat_with_a_seed_and_keep_order_without_shuffle():
    x, y = torch.randn(50, 3), torch.arange(50)
    first = [yb for _, yb in TensorBatches(x, y, 16, seed=5)]
    second = [yb for _, yb in TensorBatches(x, y, 16, seed=5)]
    assert all(torch.equal(a, b) for a, b in zip(first, second))
    in_order = TensorBatches(x, y, 16, shuffle=False, drop_last=True)
    assert len(in_order) == 3
    assert torch.equal(torch.cat([yb for _, yb in in_order]), torch.arange(48))


def test_restoring_the_generator_state_replays_the_next_epoch():
    x, y = torch.randn(40, 2), torch.arange(40)
    batches = TensorBatches(x, y, 8, seed=1)
    state = batches.generator.get_state()
    first = torch.cat([yb for _, yb in batches])
    batches.generator.set_state(state)
    assert torch.equal(torch.cat([yb for _, yb in batches]), first)


def test_batches_refuse_mismatched_or_unsuitable_inputs():
    with pytest.raises(ValueError, match="10 examples but y has 9"):
        TensorBatches(torch.zeros(10, 2), torch.zeros(9), 4)
    with pytest.raises(ValueError, match=r"\[N, C, H, W\]"):
        TensorBatches(torch.zeros(10, 2), torch.zeros(10), 4, augment=True)
    with pytest.raises(ValueError, match="not both"):
        TensorBatches(torch.zeros(10, 2), torch.zeros(10), 4, seed=1, generator=torch.Generator())


def _flips_and_shifts(image, padding):
    """Every image the augmentation may make from ``image`` [C, H, W]."""
    height, width = image.shape[1:]
    for candidate in (image, image.flip(2)):
        padded = torch.nn.functional.pad(candidate, (padding,) * 4)
        for top in range(2 * padding + 1):
            for left in range(2 * padding + 1):
                yield padded[:, top:top + height, left:left + width]


def test_augmentation_flips_and_shifts_each_image_independently(real):
    images = real.train_x[:64]
    generator = torch.Generator().manual_seed(0)
    augmented = random_flip_and_crop(images, padding=2, generator=generator)
    assert augmented.shape == images.shape
    choices = []  # which of the 50 flip-and-shift options produced each image
    for original, result in zip(images, augmented):
        options = _flips_and_shifts(original, 2)
        matches = [i for i, option in enumerate(options) if torch.equal(result, option)]
        assert matches, "an augmented image is no flip-and-shift of its original"
        choices.append(matches[0])
    assert len(set(choices)) > 20  # drawn per image, not once per batch
    assert 10 < sum(choice >= 25 for choice in choices) < 54  # options 25 to 49 are the flipped ones
    again = random_flip_and_crop(images, padding=2, generator=torch.Generator().manual_seed(0))
    assert torch.equal(again, augmented)


def test_augmented_batches_differ_between_epochs_but_keep_labels(real):
    batches = TensorBatches(real.test_x[:256], real.test_y[:256], 256, shuffle=False, augment=True, seed=0)
    (x1, y1), (x2, y2) = next(iter(batches)), next(iter(batches))
    assert torch.equal(y1, real.test_y[:256]) and torch.equal(y1, y2)
    assert not torch.equal(x1, x2)


# --- toy sets, digits, text ---------------------------------------------------------------------

@pytest.mark.parametrize("make", [make_moons, make_circles, make_spirals])
def test_toy_sets_are_float_points_with_integer_labels_and_reproducible(make):
    X, y = make(n=300, noise=0.1, seed=3)
    assert X.shape == (300, 2) and X.dtype == torch.float32 and y.dtype == torch.int64
    again, _ = make(n=300, noise=0.1, seed=3)
    other, _ = make(n=300, noise=0.1, seed=4)
    assert torch.equal(X, again) and not torch.equal(X, other)


def test_circles_have_the_inner_radius_asked_for():
    X, y = make_circles(n=400, noise=0.0, factor=0.3, seed=0)
    radius = X.norm(dim=1)
    assert torch.allclose(radius[y == 0], torch.tensor(1.0))
    assert torch.allclose(radius[y == 1], torch.tensor(0.3))


def test_spirals_are_balanced_arms_of_growing_radius():
    X, y = make_spirals(n=300, classes=3, noise=0.0, seed=0)
    assert torch.equal(y.bincount(), torch.tensor([100, 100, 100]))
    assert X.norm(dim=1).max() <= 1
    angle = torch.atan2(X[:, 1], X[:, 0])
    near_centre = X.norm(dim=1) < 0.05  # arms start at angles 0, 120 and 240 degrees
    expected = 2 * torch.pi * y[near_centre] / 3
    assert torch.allclose(torch.remainder(angle[near_centre] - expected + torch.pi, 2 * torch.pi),
                          torch.tensor(torch.pi), atol=0.4)


def test_decision_boundary_asks_for_a_grid_covering_the_data():
    X, y = make_moons(n=200, seed=0)
    seen = []

    def predict(points):
        seen.append(points)
        return (points[:, 0] > 0.5).long()

    ax = plot_decision_boundary(predict, X, y, resolution=50)
    (grid,) = seen
    assert grid.shape == (2500, 2)
    assert (grid.min(0).values < X.min(0).values).all() and (grid.max(0).values > X.max(0).values).all()
    assert len(ax.collections[-1].get_offsets()) == 200  # the data points, drawn over the regions
    scores = plot_decision_boundary(lambda points: torch.stack([-points[:, 0], points[:, 0]], dim=1), X, y)
    assert len(scores.collections[-1].get_offsets()) == 200  # one score per class: the largest wins
    with pytest.raises(ValueError, match="class indices"):
        plot_decision_boundary(lambda points: points[:, 0], X, y)


def test_digits_are_scaled_images_of_ten_classes():
    x, y = load_digits()
    assert x.shape == (1797, 1, 8, 8) and x.dtype == torch.float32
    assert x.min() == 0 and x.max() == 1
    assert y.unique().tolist() == list(range(10))


def test_offline_text_corpus_is_python_prose_and_deterministic():
    text = load_text_corpus()
    assert isinstance(text, str) and 300_000 < len(text) < 1_200_000
    assert 'The "if" statement' in text
    assert load_text_corpus() == text
    with pytest.raises(ValueError, match="unknown corpus"):
        load_text_corpus("klingon")


def _stand_in_shakespeare():
    return (TINY_SHAKESPEARE_START.decode() + "To be, or not to be\n" * 60_000)[:TINY_SHAKESPEARE_BYTES]


@pytest.fixture
def stand_in_is_canonical(monkeypatch):
    """The tests cannot download the real file: the stand-in's SHA-256 plays the canonical one."""
    digest = hashlib.sha256(_stand_in_shakespeare().encode()).hexdigest()
    monkeypatch.setattr(utils.data.text, "TINY_SHAKESPEARE_SHA256", digest)


def test_same_size_text_with_the_right_first_lines_is_refused_by_its_checksum(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "text" / "tinyshakespeare.txt"
    cached.parent.mkdir(parents=True)
    cached.write_text(_stand_in_shakespeare())
    with pytest.raises(CorruptFileError, match=f"SHA-256 is .*, not {TINY_SHAKESPEARE_SHA256[:12]}.*deleted"):
        load_text_corpus("shakespeare", url="http://127.0.0.1:9/unused")
    assert not cached.exists()


@pytest.mark.usefixtures("stand_in_is_canonical")
def test_shakespeare_is_downloaded_once_checked_and_cached(server, tmp_path, monkeypatch):
    root, url = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    (root / "short.txt").write_text("First Citizen:\n")
    with pytest.raises(CorruptFileError, match="tinyshakespeare.txt has 15 bytes"):
        load_text_corpus("shakespeare", url=url + "short.txt")
    stand_in = _stand_in_shakespeare()
    (root / "input.txt").write_text(stand_in)
    assert load_text_corpus("shakespeare", url=url + "input.txt") == stand_in
    assert load_text_corpus("shakespeare", url=url + "gone.txt") == stand_in  # from the cache now


def test_shakespeare_offline_points_to_the_offline_corpus(server, tmp_path, monkeypatch):
    _, url = server
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError, match="python-docs"):
        load_text_corpus("shakespeare", url=url + "missing.txt")


@pytest.mark.parametrize(("damage", "expected"), [
    (lambda text: text[:-1] + "\u00e9", "is not plain ASCII \\(byte 1,115,393 is not\\)"),
    (lambda text: "x" * len(text), "does not start with the play's first lines"),  # same-size garbage
])
def test_a_bad_cached_shakespeare_is_named_and_deleted(tmp_path, monkeypatch, damage, expected):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "text" / "tinyshakespeare.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(damage(_stand_in_shakespeare()).encode("utf-8")[:TINY_SHAKESPEARE_BYTES])
    with pytest.raises(CorruptFileError, match=expected + ".*it was deleted"):
        load_text_corpus("shakespeare", url="http://127.0.0.1:9/unused")
    assert not cached.exists()


def test_a_bad_shakespeare_in_a_read_only_cache_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "cache"))
    cached = tmp_path / "cache" / "text" / "tinyshakespeare.txt"
    cached.parent.mkdir(parents=True)
    cached.write_text("First Citizen:\n")

    def permission_denied(self, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(pathlib.Path, "unlink", permission_denied)
    with pytest.raises(CorruptFileError, match="has 15 bytes.*could not be deleted \\(Permission denied\\): "
                                               "delete it by hand, or set \\$DLBOOK_CACHE_DIR"):
        load_text_corpus("shakespeare", url="http://127.0.0.1:9/unused")


@pytest.mark.usefixtures("stand_in_is_canonical")
def test_shakespeare_from_an_explicit_path_or_environment_variable(tmp_path, monkeypatch):
    copy = tmp_path / "input.txt"
    copy.write_text(_stand_in_shakespeare())
    monkeypatch.setenv(CACHE_ENV_VAR, str(tmp_path / "never-used"))
    assert load_text_corpus("shakespeare", path=copy) == _stand_in_shakespeare()
    monkeypatch.setenv(SHAKESPEARE_ENV_VAR, str(copy))
    assert load_text_corpus("shakespeare") == _stand_in_shakespeare()
    copy.write_text("x" * TINY_SHAKESPEARE_BYTES)
    with pytest.raises(CorruptFileError, match="does not start with"):
        load_text_corpus("shakespeare")
    assert copy.exists()  # the reader's own file is never deleted
    assert not (tmp_path / "never-used").exists()
