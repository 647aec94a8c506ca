# syntax=docker/dockerfile:1.4
FROM ubuntu:24.04@sha256:2e863c44b718727c860746568e1d54afd13b2fa71b160f5cd9058fc436217b30
RUN <<-EOT bash
	set -euo pipefail
	apt-get update
	apt-get install -y --no-install-recommends curl=8.5.0-2ubuntu10.1 ca-certificates=20240203
	curl -fsSLo /tmp/kubectl https://dl.k8s.io/release/v1.30.2/bin/linux/amd64/kubectl
	echo "c6e9c45ce3f82c90663e3c30db3b27c167e8b19d83ed4048b61c1013f6a7c66e  /tmp/kubectl" | sha256sum -c -
	install -m 0755 /tmp/kubectl /usr/local/bin/kubectl
	EOT
USER 65534
