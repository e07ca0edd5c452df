"""Benchmarks of nixvms against the monolithic nix-build baseline (see bench/README.md)."""
