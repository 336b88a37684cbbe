"""The local kit of ens-image-operator: ENS emulator, local Kubernetes API, stack and demo.

Never part of the production distribution or image; it uses the operator only through its public
modules (see tests/unit/test_architecture.py).
"""
