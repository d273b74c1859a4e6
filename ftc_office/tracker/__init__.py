"""The tracker read side: rows with their cell references, typed records, checks."""
