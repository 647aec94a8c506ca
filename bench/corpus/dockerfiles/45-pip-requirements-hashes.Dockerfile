FROM python:3.12-slim@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743
COPY requirements.txt .
RUN pip install --no-cache-dir --require-hashes -r requirements.txt \
    # keep pip itself pinned too
    && pip install --no-cache-dir pip==24.1
USER 1000
