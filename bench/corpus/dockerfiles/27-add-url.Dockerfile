FROM alpine:3.20
ADD https://github.com/krallin/tini/releases/download/v0.19.0/tini-static /tini
RUN chmod +x /tini
ADD --checksum=sha256:c5b0d9bfbd2f0ae0b5f3a6b4d2f0b0e0e3a9e8f1b1d3c5a7e9f1b3d5c7e9f1a3 https://example.com/config.tar.gz /etc/app/
ADD entrypoint.sh /entrypoint.sh
ADD rootfs.tar.xz /
USER 1000
ENTRYPOINT ["/tini", "--", "/entrypoint.sh"]
