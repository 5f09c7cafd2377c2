"""The Runs page: every training run in one table (panel), read from its folder (run_info)."""
