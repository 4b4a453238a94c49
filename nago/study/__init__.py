"""The search loop: trials, their SQLite store, executors, and running one trial (ask -> evaluate -> tell)."""
