FROM centos:7
RUN yum install -y wget tar gzip && yum clean all
RUN wget https://github.com/mikefarah/yq/releases/download/v4.44.1/yq_linux_amd64 -O /usr/bin/yq && chmod +x /usr/bin/yq
RUN wget --no-check-certificate https://internal.example.com/tools/agent.rpm && rpm -i agent.rpm
CMD ["/bin/bash"]
