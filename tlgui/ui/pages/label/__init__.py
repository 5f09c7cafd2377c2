"""The Label page: label an unlabelled folder, the model choosing what to label next (issue 26)."""
