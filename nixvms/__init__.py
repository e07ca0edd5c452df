"""nixvms: build and run networks of NixOS virtual machines on an incremental doit graph."""

__version__ = "0.1.0"
