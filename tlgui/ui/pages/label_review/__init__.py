"""The Check labels page: the suspects of a run's data in a gallery, reviewed by clicks or
keys (Keep / Relabel as... / Exclude), saved as a corrections CSV (panel; the background
check and its thumbnails: jobs)."""
