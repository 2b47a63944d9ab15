"""The pure model: value objects, entities and rules, free of I/O and frameworks."""
