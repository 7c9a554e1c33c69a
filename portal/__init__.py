"""Inzicht: governance and oversight portal for lump-sum Wmo and youth support contracts."""

import os

# Piccolo finds its engine through PICCOLO_CONF; point it at ours unless the caller chose otherwise.
os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")

__version__ = "0.1.0"
