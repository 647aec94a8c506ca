FROM debian:bookworm-slim@sha256:5f7d5664eae4a192c2d2d6cb67fc3f3c7891a8722cd2903cc35aa649a12b0c8d
RUN curl -fsSLo /tmp/tool.tgz https://example.com/tool-1.0.tgz; \
    echo "0b5e2d1e4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f  /tmp/tool.tgz" | sha256sum -c -; \
    tar -xzf /tmp/tool.tgz -C /opt
USER 1000
