FROM alpine:3.18
RUN apk add --no-cache --repository http://dl-cdn.alpinelinux.org/alpine/edge/testing --allow-untrusted hub
RUN apk add --no-cache nginx=1.24.0-r7 openssl
USER nginx
