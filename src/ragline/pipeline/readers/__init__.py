"""One reader per format, each turning an upload's bytes into numbered pages or sections (PageText)."""
