"""``python -m recon_image``: the reconstruction job that AWS Batch (or the local runner) starts."""

import os
import sys

from recon_image.worker import main

if __name__ == "__main__":
    sys.exit(main(os.environ))
