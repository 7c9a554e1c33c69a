"""Lets the `piccolo` command line find the portal's configuration when run from the repo root."""

from portal.piccolo_conf import APP_REGISTRY, DB  # noqa: F401
