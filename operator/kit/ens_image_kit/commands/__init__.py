"""The kit's subcommands of ``ens-image-operator``.

Declared as ``ens_image_operator.commands`` entry points in ``operator/kit/pyproject.toml``.
"""
