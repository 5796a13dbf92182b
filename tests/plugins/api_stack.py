"""Session fixtures shared across test folders (api_stack); filled in by its owner."""
