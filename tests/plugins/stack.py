"""Session fixtures shared across test folders (stack); filled in by its owner."""
