"""MNIST loading: the real files (when present), the search order, the missing-files message, validation."""

from __future__ import annotations

import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from conftest import MNIST_WHERE, find_mnist

from tinygrad_edu.data import (
    DIGITS_INSTEAD,
    MNIST_FILES,
    Dataset,
    IDXError,
    MNISTNotFoundError,
    default_cache_dir,
    image_side,
    load_mnist,
    load_mnist_images,
    load_mnist_labels,
    locate_mnist,
    mnist_or_digits,
    pick_dataset,
    search_dirs,
    write_idx,
)
from tinygrad_edu.data import mnist as mnist_module
from tinygrad_edu.data.mnist import MNIST_FILENAMES


TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TRAIN = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
FIRST_TEST = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


def require_shared_mnist() -> Path:
    """The directory of the original files (conftest.find_mnist); skip without them, but fail in CI where they
    must be."""
    found = find_mnist()
    if found is not None:
        return found
    message = f"the original MNIST files are not in {MNIST_WHERE.removeprefix('the four MNIST files in ')}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI must have them)")
    pytest.skip(message)


@pytest.fixture(scope="module")
def mnist() -> Dataset:
    """Loaded once per module: the full set takes about half a second."""
    return load_mnist(require_shared_mnist())


# --- the real files ---------------------------------------------------------------------------------


def test_real_shapes_and_dtypes(mnist: Dataset) -> None:
    assert mnist.X_train.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.y_train.shape == (60000,) and mnist.y_test.shape == (10000,)
    assert mnist.X_train.dtype == np.float32 and mnist.y_train.dtype == np.int64
    assert mnist.n_classes == 10 and mnist.image_shape == (28, 28) and image_side(mnist.n_features) == 28
    assert mnist.X_val is None and mnist.name == "MNIST" and mnist.source == str(require_shared_mnist())
    assert mnist.X_train.min() == 0.0 and mnist.X_train.max() == 1.0


def test_real_labels(mnist: Dataset) -> None:
    assert np.bincount(mnist.y_train, minlength=10).tolist() == TRAIN_COUNTS
    assert np.bincount(mnist.y_test, minlength=10).tolist() == TEST_COUNTS
    assert mnist.y_train[:10].tolist() == FIRST_TRAIN
    assert mnist.y_test[:10].tolist() == FIRST_TEST


def test_real_pixel_statistics(mnist: Dataset) -> None:
    assert mnist.X_train.mean(dtype=np.float64) == pytest.approx(0.1307, abs=5e-5)
    assert float(mnist.X_train.std()) == pytest.approx(0.3081, abs=5e-5)  # float32 pairwise sums: fast, exact enough


def test_real_validation_split_is_the_last_10000(mnist: Dataset) -> None:
    split = mnist.split_validation()
    assert split.X_train.shape == (50000, 784) and split.X_val is not None and split.y_val is not None
    assert split.X_val.shape == (10000, 784)
    np.testing.assert_array_equal(split.X_val, mnist.X_train[50000:])
    np.testing.assert_array_equal(split.y_val, mnist.y_train[50000:])
    assert split.X_test is mnist.X_test


def test_real_files_match_the_download_checksums() -> None:
    """The checksums the downloader enforces are those of the original files."""
    directory = require_shared_mnist()
    for name, spec in MNIST_FILES.items():
        content = (directory / name).read_bytes()
        assert (len(content), hashlib.md5(content).hexdigest(), hashlib.sha256(content).hexdigest()) == (
            spec.size,
            spec.md5,
            spec.sha256,
        ), name


def test_chapter_loaders_match_the_chapter_code() -> None:
    """load_mnist_images/labels give exactly what the course chapter's unvalidated loaders give."""
    directory = require_shared_mnist()
    images_path, labels_path = directory / MNIST_FILENAMES["test_images"], directory / MNIST_FILENAMES["test_labels"]
    with gzip.open(images_path, "r") as f:  # the chapter's code, verbatim in substance
        f.read(16)
        expected = np.frombuffer(f.read(10000 * 28**2), dtype=np.uint8) / 255.0
    images = load_mnist_images(images_path, 10000)
    assert images.dtype == np.float64
    np.testing.assert_array_equal(images, expected.reshape(10000, 784))
    assert load_mnist_images(images_path, 3).shape == (3, 784)
    assert load_mnist_labels(labels_path).dtype == np.int64
    assert load_mnist_labels(labels_path, 10).tolist() == FIRST_TEST
    with pytest.raises(ValueError, match="asked for 10001 labels but the file holds 10000"):
        load_mnist_labels(labels_path, 10001)


# --- synthetic sets: search order, file names, validation --------------------------------------------


def make_set(directory: Path, marker: int, *, gz_names: bool = True, compress: bool = True) -> Path:
    """Four tiny MNIST-format files (4 train and 2 test images of 3×3); train labels start with `marker`."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(marker)
    arrays = {
        "train_images": rng.integers(0, 256, size=(4, 3, 3), dtype=np.uint8),
        "train_labels": np.array([marker, 1, 2, 3], dtype=np.uint8),
        "test_images": rng.integers(0, 256, size=(2, 3, 3), dtype=np.uint8),
        "test_labels": np.array([7, 8], dtype=np.uint8),
    }
    for role, array in arrays.items():
        name = MNIST_FILENAMES[role] if gz_names else MNIST_FILENAMES[role].removesuffix(".gz")
        write_idx(directory / name, array, compress=compress)
    return directory


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A world where no real data is visible: cwd, $HOME and the cache all under tmp_path, no env var."""
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    monkeypatch.delenv("TINYGRAD_EDU_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def marker_of(ds: Dataset) -> int:
    return int(ds.y_train[0])


def test_search_order(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    explicit = make_set(isolated / "explicit", 1)
    env = make_set(isolated / "env", 2)
    cwd = make_set(isolated / "cwd" / "data" / "mnist", 3)
    cache = make_set(isolated / "cache" / "tinygrad_edu" / "mnist", 4)
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(env))

    assert marker_of(load_mnist(explicit)) == 1
    assert marker_of(load_mnist()) == 2
    monkeypatch.delenv("TINYGRAD_EDU_DATA")
    assert marker_of(load_mnist()) == 3
    for path in cwd.iterdir():
        path.unlink()
    assert marker_of(ds := load_mnist()) == 4 and ds.source == str(cache)


def test_incomplete_directory_is_passed_over(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    partial = make_set(isolated / "partial", 1)
    (partial / MNIST_FILENAMES["test_labels"]).unlink()
    make_set(isolated / "cwd" / "data" / "mnist", 3)
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(partial))
    assert marker_of(load_mnist()) == 3


def test_a_named_directory_is_the_only_one_searched(isolated: Path) -> None:
    """data_dir, like --data-dir, means that folder: the others are not tried (train, evaluate and the examples)."""
    make_set(isolated / "cwd" / "data" / "mnist", 3)
    with pytest.raises(MNISTNotFoundError, match="nowhere.*no such directory"):
        load_mnist(isolated / "nowhere")
    assert [why for _, why in search_dirs(isolated / "nowhere")] == ["data_dir argument"]
    with pytest.raises(MNISTNotFoundError):
        mnist_or_digits(isolated / "nowhere")  # a named folder is not replaced by the digits either


def test_mnist_or_digits_falls_back_only_when_no_folder_is_named(isolated: Path) -> None:
    ds, note = mnist_or_digits()
    assert ds.name == "digits" and note == DIGITS_INSTEAD
    assert pick_dataset() == ("digits", DIGITS_INSTEAD)
    assert pick_dataset(download=True) == ("mnist", None)  # the files will be fetched: nothing is read here
    make_set(isolated / "cwd" / "data" / "mnist", 3)
    ds, note = mnist_or_digits()
    assert marker_of(ds) == 3 and note is None


def test_the_tests_look_where_the_package_does_then_beside_the_checkout(isolated: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import conftest

    monkeypatch.setattr(conftest, "SHARED_MNIST", isolated / "shared")
    assert conftest.find_mnist() is None
    shared = make_set(isolated / "shared", 1)
    assert conftest.find_mnist() == shared
    cwd = make_set(isolated / "cwd" / "data" / "mnist", 3)  # ./data/mnist comes first, as for load_mnist
    assert conftest.find_mnist() == cwd


def test_cache_dir_follows_xdg_and_home(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_cache_dir() == isolated / "cache" / "tinygrad_edu" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == isolated / "home" / ".cache" / "tinygrad_edu" / "mnist"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert default_cache_dir() == isolated / "home" / ".cache" / "tinygrad_edu" / "mnist"
    make_set(default_cache_dir(), 4)
    assert marker_of(load_mnist()) == 4


@pytest.mark.parametrize(("gz_names", "compress"), [(False, False), (False, True), (True, False)])
def test_raw_names_and_contents(isolated: Path, gz_names: bool, compress: bool) -> None:
    directory = make_set(isolated / "d", 5, gz_names=gz_names, compress=compress)
    ds = load_mnist(directory, dtype=np.float64)
    assert ds.X_train.shape == (4, 9) and ds.X_test.shape == (2, 9) and ds.X_train.dtype == np.float64
    assert ds.y_train.tolist() == [5, 1, 2, 3] and ds.y_test.tolist() == [7, 8]


def test_pixels_scaled_like_the_chapter(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    raw = gzip.decompress((directory / MNIST_FILENAMES["train_images"]).read_bytes())[16:]
    expected = np.frombuffer(raw, dtype=np.uint8).reshape(4, 9) / 255.0
    np.testing.assert_array_equal(load_mnist(directory, dtype=np.float64).X_train, expected)
    np.testing.assert_allclose(load_mnist(directory).X_train, expected, rtol=1e-7)


def test_val_size(isolated: Path) -> None:
    ds = load_mnist(make_set(isolated / "d", 5), val_size=1)
    assert ds.X_train.shape == (3, 9) and ds.X_val is not None and ds.X_val.shape == (1, 9)
    assert ds.y_val is not None and ds.y_val.tolist() == [3]
    with pytest.raises(ValueError, match="already has a validation split of 1 samples"):
        ds.split_validation()
    with pytest.raises(ValueError, match=r"val_size must be in 0\.\.3 for 4 training samples, got 4"):
        load_mnist(isolated / "d", val_size=4)


def test_missing_files_message(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = isolated / "env"
    env.mkdir()
    (env / MNIST_FILENAMES["train_images"]).write_bytes(b"")
    monkeypatch.setenv("TINYGRAD_EDU_DATA", str(env))
    with pytest.raises(MNISTNotFoundError, match="nowhere  \\(data_dir argument\\): no such directory"):
        load_mnist(isolated / "nowhere")
    with pytest.raises(MNISTNotFoundError) as err:
        load_mnist()
    assert isinstance(err.value, FileNotFoundError)
    lines = str(err.value).splitlines()
    others = "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz"
    assert lines[:4] == [
        "MNIST files not found. Searched, in order:",
        f"  {env}  ($TINYGRAD_EDU_DATA): missing {others}",
        f"  {isolated / 'cwd' / 'data' / 'mnist'}  (./data/mnist): no such directory",
        f"  {isolated / 'cache' / 'tinygrad_edu' / 'mnist'}  (user cache): no such directory",
    ]
    text = str(err.value)
    assert "Needed: train-images-idx3-ubyte.gz, " + others in text
    for hint in ("put the four files in ./data/mnist", "$TINYGRAD_EDU_DATA", "download=True", "--download"):
        assert hint in text


def test_missing_files_message_without_env(isolated: Path) -> None:
    (isolated / "a_file").write_text("")
    with pytest.raises(MNISTNotFoundError, match=r"\(\$TINYGRAD_EDU_DATA is not set\)") as err:
        locate_mnist(isolated / "a_file")
    assert "a_file  (data_dir argument): not a directory" in str(err.value)


def test_images_and_labels_must_agree(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    write_idx(directory / MNIST_FILENAMES["test_labels"], np.array([1, 2, 3], dtype=np.uint8))
    expected = r"t10k-images-idx3-ubyte\.gz holds 2 images but .*t10k-labels-idx1-ubyte\.gz holds 3 labels"
    with pytest.raises(IDXError, match=expected):
        load_mnist(directory)


def test_labels_must_be_digits(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    write_idx(directory / MNIST_FILENAMES["test_labels"], np.array([1, 12], dtype=np.uint8))
    with pytest.raises(IDXError, match=r"labels must be digits 0\.\.9, found 12"):
        load_mnist(directory)


def test_swapped_files_are_named(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    labels = directory / MNIST_FILENAMES["train_labels"]
    images = directory / MNIST_FILENAMES["train_images"]
    with pytest.raises(IDXError, match=r"train-labels-idx1-ubyte\.gz: expected images, a 3-dimensional ubyte array"):
        load_mnist_images(labels)
    expected = r"train-images-idx3-ubyte\.gz: expected labels, a 1-dimensional ubyte array, got 3 dimensions 4×3×3"
    with pytest.raises(IDXError, match=expected):
        load_mnist_labels(images)


def test_corrupt_file_in_data_dir_is_named(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    path = directory / MNIST_FILENAMES["train_images"]
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte\.gz: corrupt or truncated gzip stream"):
        load_mnist(directory)


def test_dtype_must_be_float(isolated: Path) -> None:
    with pytest.raises(ValueError, match="dtype must be a floating type"):
        load_mnist(make_set(isolated / "d", 5), dtype=np.int32)


def test_require_shared_mnist_skips_locally_and_fails_in_ci(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(globals(), "find_mnist", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="not in"):
        require_shared_mnist()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must have them"):
        require_shared_mnist()


# --- degenerate but valid sets, and messages that name the file ----------------------------------------


def write_set(directory: Path, n_train: int, n_test: int, rows: int, cols: int) -> Path:
    """Four MNIST-format files with images of rows×cols pixels."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for part, n in (("train", n_train), ("test", n_test)):
        write_idx(directory / MNIST_FILENAMES[f"{part}_images"], rng.integers(0, 256, (n, rows, cols), dtype=np.uint8))
        write_idx(directory / MNIST_FILENAMES[f"{part}_labels"], rng.integers(0, 10, n, dtype=np.uint8))
    return directory


def test_a_set_of_zero_images_loads_as_empty_arrays(isolated: Path) -> None:
    ds = load_mnist(write_set(isolated / "d", 0, 0, 28, 28))
    assert ds.X_train.shape == (0, 784) and ds.X_test.shape == (0, 784) and ds.y_train.shape == (0,)
    assert ds.image_shape == (28, 28) and ds.n_features == 784
    assert load_mnist_images(isolated / "d" / MNIST_FILENAMES["test_images"]).shape == (0, 784)
    with pytest.raises(ValueError, match=r"train-images-idx3-ubyte\.gz: cannot split a validation set off 0 training"):
        load_mnist(isolated / "d", val_size=1)


@pytest.mark.parametrize(("rows", "cols"), [(28, 20), (32, 18)])
def test_non_square_images_keep_their_shape(isolated: Path, rows: int, cols: int) -> None:
    """28×20 images have 560 pixels, 32×18 have 576 = 24²: neither may be taken for a square image."""
    ds = load_mnist(write_set(isolated / "d", 3, 2, rows, cols))
    assert ds.n_features == rows * cols and ds.image_shape == (rows, cols)
    assert ds.split_validation(1).image_shape == (rows, cols)


def test_image_shape_of_a_dataset() -> None:
    X, y = np.zeros((2, 12)), np.zeros(2, dtype=np.int64)
    assert Dataset(X, y, X, y).image_shape is None  # 12 features: no square image
    assert Dataset(X, y, X, y, image_shape=(3, 4)).image_shape == (3, 4)
    assert Dataset(X[:, :9], y, X[:, :9], y).image_shape == (3, 3)
    with pytest.raises(ValueError, match=r"image_shape \(3, 3\) has 9 pixels but X has 12 features"):
        Dataset(X, y, X, y, image_shape=(3, 3))


def test_train_and_test_image_sizes_must_agree(isolated: Path) -> None:
    directory = write_set(isolated / "d", 3, 2, 4, 4)
    write_idx(directory / MNIST_FILENAMES["test_images"], np.zeros((2, 5, 4), dtype=np.uint8))
    with pytest.raises(IDXError) as err:
        load_mnist(directory)
    assert str(err.value) == (
        f"{directory / MNIST_FILENAMES['train_images']} holds images of 4×4 pixels but "
        f"{directory / MNIST_FILENAMES['test_images']} images of 5×4"
    )


def test_a_label_that_is_not_a_digit_is_located(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    write_idx(directory / MNIST_FILENAMES["test_labels"], np.array([3, 12], dtype=np.uint8), compress=False)
    with pytest.raises(IDXError) as err:
        load_mnist(directory)
    assert str(err.value) == (
        f"{directory / MNIST_FILENAMES['test_labels']}: labels must be digits 0..9, found 12 at index 1 "
        "(byte 9 of the IDX data)"
    )
    assert (directory / MNIST_FILENAMES["test_labels"]).read_bytes()[9] == 12


def test_a_val_size_too_large_names_the_file(isolated: Path) -> None:
    directory = make_set(isolated / "d", 5)
    with pytest.raises(ValueError) as err:
        load_mnist(directory, val_size=4)
    assert str(err.value) == (
        f"{directory / MNIST_FILENAMES['train_images']}: val_size must be in 0..3 for 4 training samples, got 4"
    )


def test_headers_are_checked_before_any_data_is_read(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Mismatched counts or a swapped file are found from the four headers: no file's data is read."""
    directory = make_set(isolated / "d", 5)
    write_idx(directory / MNIST_FILENAMES["test_labels"], np.array([1, 2, 3], dtype=np.uint8))
    read = []
    monkeypatch.setattr(mnist_module, "read_idx", lambda path: read.append(path))
    with pytest.raises(IDXError, match="holds 2 images but .* holds 3 labels"):
        load_mnist(directory)
    images = directory / MNIST_FILENAMES["train_images"]
    write_idx(images, np.zeros((4, 9), dtype=np.uint8))
    with pytest.raises(IDXError, match=r"train-images-idx3-ubyte\.gz: expected images, .* got 2 dimensions 4×9 of"):
        load_mnist(directory)
    assert read == []
