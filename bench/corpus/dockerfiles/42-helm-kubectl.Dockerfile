FROM alpine:3.20
ARG KUBECTL_VERSION=v1.30.2
RUN apk add --no-cache curl bash \
 && curl -LO "https://dl.k8s.io/release/${KUBECTL_VERSION}/bin/linux/amd64/kubectl" \
 && install -o root -g root -m 0755 kubectl /usr/local/bin/kubectl \
 && curl -fsSL -o get_helm.sh https://raw.githubusercontent.com/helm/helm/main/scripts/get-helm-3 \
 && chmod 700 get_helm.sh && ./get_helm.sh
ENTRYPOINT ["kubectl"]
