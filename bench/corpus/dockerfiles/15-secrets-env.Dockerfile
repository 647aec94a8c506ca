FROM python:3.10-slim
ARG GITHUB_TOKEN
ENV AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY \
    DATABASE_PASSWORD="s3cr3t-p4ss" \
    DATABASE_HOST=db
RUN pip install git+https://${GITHUB_TOKEN}@github.com/acme/private-lib.git
COPY . /app
CMD ["python", "/app/main.py"]
