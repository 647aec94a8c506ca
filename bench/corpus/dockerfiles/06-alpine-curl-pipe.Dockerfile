FROM alpine:3.19
RUN apk add --no-cache bash curl git
RUN curl -fsSL https://raw.githubusercontent.com/nvm-sh/nvm/v0.39.7/install.sh | bash
ENV NVM_DIR=/root/.nvm
CMD ["bash"]
