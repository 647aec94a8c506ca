FROM continuumio/miniconda3:24.4.0-0
COPY environment.yml .
RUN conda env create -f environment.yml
RUN pip install --no-deps -e .
SHELL ["conda", "run", "-n", "app", "/bin/bash", "-c"]
CMD ["conda", "run", "-n", "app", "python", "app.py"]
