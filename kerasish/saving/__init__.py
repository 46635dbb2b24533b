"""Serialization: a registry of known classes; configs never carry code."""
