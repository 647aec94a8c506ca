FROM debian:bookworm
RUN echo "deb [trusted=yes] http://apt.internal.example.com/debian bookworm main" > /etc/apt/sources.list.d/internal.list \
    && apt-get update --allow-insecure-repositories \
    && apt-get install -y --allow-unauthenticated internal-agent
USER daemon
