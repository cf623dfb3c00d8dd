"""DKIM keys and their lifecycle: keys, the key store, the rotation state machine, rotate."""
