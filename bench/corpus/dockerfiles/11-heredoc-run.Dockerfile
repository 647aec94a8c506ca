# syntax=docker/dockerfile:1.4
FROM ubuntu:24.04
RUN <<EOF
apt-get update
apt-get install -y curl unzip
curl -fsSLo /tmp/awscliv2.zip https://awscli.amazonaws.com/awscli-exe-linux-x86_64.zip
unzip /tmp/awscliv2.zip -d /tmp
/tmp/aws/install
EOF
USER ubuntu
