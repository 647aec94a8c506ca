# syntax=docker/dockerfile:1.7
ARG PYTHON_IMAGE=python:3.12-slim-bookworm@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements.lock ./
RUN python -m venv /venv \
 && /venv/bin/pip install --require-hashes -r requirements.lock
COPY . .
RUN /venv/bin/pip install --no-deps .

FROM ${PYTHON_IMAGE}
COPY --from=build /venv /venv
RUN useradd --system --uid 10001 app
USER 10001
ENTRYPOINT ["/venv/bin/app"]
