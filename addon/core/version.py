"""The extension's version; build.py refuses to build when the manifest says otherwise."""

VERSION = "0.1.0"
