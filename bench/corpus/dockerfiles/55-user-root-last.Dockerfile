FROM bitnami/postgresql:16.3.0@sha256:7b3cf9a2c4b5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f
USER root
RUN install_packages postgresql-16-pgvector
COPY init.sql /docker-entrypoint-initdb.d/
USER root
