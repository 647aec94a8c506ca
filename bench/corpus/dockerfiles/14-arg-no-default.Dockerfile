ARG REGISTRY
ARG TAG=1.2.3
FROM ${REGISTRY}/platform/base:${TAG}
RUN apk add --no-cache tini=0.19.0-r2
USER 1000
ENTRYPOINT ["/sbin/tini", "--"]
