"""Configuration: search spaces (``spaces/*.toml``) and run files (``runs/*.toml``) as typed objects."""
