# syntax=docker/dockerfile:1
# The operator image: `docker build -t ens-image-operator:0.1.0 .`
# The builder turns the source into wheels (the operator's and every dependency's); the final image
# installs those wheels only: no compilers, no source tree, no pip cache.

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /src
# Only the operator distribution: the local kit (operator/kit) cannot get into the image.
COPY pyproject.toml README.md ./
COPY operator/ens_image_operator ./operator/ens_image_operator
RUN python -m pip wheel --no-deps --wheel-dir /wheels . \
 && python -m pip wheel --wheel-dir /wheels /wheels/ens_image_operator-*.whl

FROM ${PYTHON_IMAGE}
LABEL org.opencontainers.image.title="ens-image-operator" \
      org.opencontainers.image.description="Kubernetes operator for Alibaba Cloud ENS custom images" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOME=/tmp
# Install from the builder's wheels through a bind mount, so no wheel file lands in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    python -m pip install --no-cache-dir --no-index --find-links=/wheels ens-image-operator \
 && rm -rf /root/.cache
# A numeric, non-root user: Kubernetes can then verify runAsNonRoot without a passwd lookup.
USER 65532:65532
# Prometheus metrics and the health endpoint (ENS_OPERATOR_METRICS_PORT, ENS_OPERATOR_HEALTH_PORT).
EXPOSE 8080 8081
ENTRYPOINT ["ens-image-operator", "run"]
