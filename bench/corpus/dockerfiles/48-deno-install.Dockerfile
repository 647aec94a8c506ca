FROM ubuntu:22.04
RUN apt-get update && apt-get -y install curl unzip
RUN curl -fsSL https://deno.land/install.sh | sh
RUN curl -fsSL https://bun.sh/install | bash -s "bun-v1.1.13"
USER 1000
