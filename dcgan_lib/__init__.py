"""dcgan_lib: the machinery behind the DCGAN textbook.

Each module holds one idea and imports on its own:

- ``config``   quick or full mode, and the device
- ``models``   the DCGAN generator and discriminator
- ``theory``   the closed forms the chapters derive
- ``data``     MNIST and Fashion-MNIST as tensors in [-1, 1]
- ``viz``      image grids and labelled plots
"""

__version__ = "0.1.0"
