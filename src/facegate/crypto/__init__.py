"""Keys and encryption: a master key from outside the data directory, per-subject data keys."""

from facegate.crypto.keys import KeyRing, MasterKey, load_master_key

__all__ = ["KeyRing", "MasterKey", "load_master_key"]
