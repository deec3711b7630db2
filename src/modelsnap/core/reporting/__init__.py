"""Words and documents for people: the HTML/Markdown report, snapshot diffs and readable values."""
