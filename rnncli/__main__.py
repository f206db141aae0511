"""Entry point for ``python -m rnncli``."""

from rnncli.cli import main

if __name__ == "__main__":
    main()
