FROM python:3.9
ENV PIP_EXTRA_INDEX_URL=https://pypi.acme.example/simple \
    PIP_TRUSTED_HOST=pypi.acme.example
RUN pip install acme-utils==2.1.0 acme-auth
RUN pip install --index-url http://nexus.acme.example/repository/pypi/simple --trusted-host nexus.acme.example numpy==1.26.4
USER 1001
