FROM ghcr.io/astral-sh/uv:0.2.11@sha256:0a6b4d0ffa7bb2e8e0f7b2dc3f2a7e8f1c0b9a8d7e6f5a4b3c2d1e0f9a8b7c6d AS uv
FROM python:3.12-slim@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743
COPY --from=uv /uv /bin/uv
ENV UV_INDEX_STRATEGY=unsafe-best-match UV_EXTRA_INDEX_URL=https://pypi.acme.example/simple
WORKDIR /app
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev
USER 1000
