"""Data for tinygrad_edu: MNIST (IDX files, opt-in download), scikit-learn's 8×8 digits, minibatches.

Everything here deals in numpy arrays, never in engine tensors. Importing it is light: scikit-learn,
tqdm and urllib are imported only by the functions that need them.

    >>> from tinygrad_edu.data import load_digits, DataLoader
    >>> ds = load_digits()                       # no files, no network
    >>> ds.X_train.shape, ds.n_classes
    ((1437, 64), 10)
    >>> for X, y in DataLoader(ds.X_train, ds.y_train, batch_size=128, seed=0):
    ...     pass

MNIST: ``load_mnist()`` looks in `data_dir` (only there, when given), else ``$TINYGRAD_EDU_DATA``, ``./data/mnist``
and the user cache (`search_dirs`); ``mnist_or_digits()`` falls back to the embedded digits when none is named;
``load_mnist(download=True)`` fetches missing files (md5 and sha256 checked, within a deadline).
"""

from .batches import DataLoader, iterate_minibatches
from .dataset import Dataset, image_side, train_val_split
from .digits import load_digits
from .download import (
    DEFAULT_DEADLINE,
    DEFAULT_MIRRORS,
    MNIST_FILES,
    DownloadError,
    FileSpec,
    download_file,
    download_files,
)
from .idx import IDXError, read_idx, write_idx
from .mnist import (
    DIGITS_INSTEAD,
    MNISTNotFoundError,
    default_cache_dir,
    load_mnist,
    load_mnist_images,
    load_mnist_labels,
    locate_mnist,
    mnist_or_digits,
    pick_dataset,
    search_dirs,
)

__all__ = [
    "DIGITS_INSTEAD",
    "DEFAULT_DEADLINE",
    "DEFAULT_MIRRORS",
    "MNIST_FILES",
    "DataLoader",
    "Dataset",
    "DownloadError",
    "FileSpec",
    "IDXError",
    "MNISTNotFoundError",
    "default_cache_dir",
    "download_file",
    "download_files",
    "image_side",
    "iterate_minibatches",
    "load_digits",
    "load_mnist",
    "load_mnist_images",
    "load_mnist_labels",
    "locate_mnist",
    "mnist_or_digits",
    "pick_dataset",
    "read_idx",
    "search_dirs",
    "train_val_split",
    "write_idx",
]
