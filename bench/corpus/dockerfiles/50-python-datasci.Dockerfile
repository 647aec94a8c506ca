FROM jupyter/scipy-notebook
USER root
RUN apt-get update && apt-get install -y --no-install-recommends graphviz && rm -rf /var/lib/apt/lists/*
USER ${NB_UID}
RUN pip install --no-cache-dir 'xgboost>=2' lightgbm==4.3.0 \
    && conda install --quiet --yes 'pandas=2.2.*'
