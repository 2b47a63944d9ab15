"""One use case per module; each a class built with ports and called with a command."""
