"""Kubernetes operator for Alibaba Cloud ENS custom images."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ens-image-operator")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0"

GROUP = "ens.image-operator.io"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
