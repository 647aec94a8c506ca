FROM ubuntu
RUN apt-get update && apt-get install -y sudo vim wget curl
RUN useradd -m dev && echo "dev ALL=(ALL) NOPASSWD:ALL" >> /etc/sudoers
USER dev
RUN sudo apt-get install -y htop
