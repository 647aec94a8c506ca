FROM golang:1.22.4-bookworm@sha256:96788e3ab7e5c9e7d2bd8e7e22a6ae8c3df3d5b7f4c1a1b2c3d4e5f6a7b8c9d0 AS tools
RUN go install golang.org/x/tools/gopls@v0.16.1 \
 && go install honnef.co/go/tools/cmd/staticcheck@2023.1.7
FROM gcr.io/distroless/base-debian12:nonroot@sha256:0a0dc2036b7c56d1a9b6b3eed67a974b6d5410187b88cbd6f1ef305697210ee2
COPY --from=tools /go/bin/ /usr/local/bin/
