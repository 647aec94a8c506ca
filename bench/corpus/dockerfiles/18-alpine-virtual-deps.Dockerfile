FROM python:3.12-alpine3.20
RUN apk add --no-cache --virtual .build-deps gcc musl-dev libffi-dev \
    && pip install --no-cache-dir cryptography==42.0.8 \
    && apk del .build-deps
RUN adduser -D -u 1000 app
USER app
