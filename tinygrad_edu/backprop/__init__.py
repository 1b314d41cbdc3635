"""The chapter's backpropagation equations in plain numpy: an independent witness for the autograd engine.

Everything lives in `equations.py` (read it top to bottom); this package only re-exports its public names.
"""

from .equations import *  # noqa: F403
from .equations import __all__  # noqa: F401
