FROM debian:bookworm-slim@sha256:5f7d5664eae4a192c2d2d6cb67fc3f3c7891a8722cd2903cc35aa649a12b0c8d
RUN /bin/sh -c 'set -e; curl -fsSLo /tmp/tool.tgz https://example.com/tool-1.0.tgz; sha256sum /tmp/tool.tgz; tar -xzf /tmp/tool.tgz -C /opt'
USER 1000
