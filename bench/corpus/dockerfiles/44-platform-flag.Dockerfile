FROM --platform=$BUILDPLATFORM golang:1.22-alpine@sha256:ace6cc3fe58d0c7b12303c57afe6d6724851152df55e08057b43990b927ad5e8 AS build
ARG TARGETOS TARGETARCH
WORKDIR /src
COPY . .
RUN GOOS=$TARGETOS GOARCH=$TARGETARCH go build -o /out/svc .

FROM --platform=$TARGETPLATFORM alpine:3.20@sha256:b89d9c93e9ed3597455c90a0b88a8bbb5cb7188438f70953fede212a0c4394e0
RUN apk add --no-cache ca-certificates=20240705-r0
COPY --from=build /out/svc /usr/local/bin/svc
USER 65534
ENTRYPOINT ["svc"]
