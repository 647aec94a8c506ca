FROM perl:5.38
RUN cpanm Carton
RUN curl -L https://cpanmin.us | perl - App::cpanminus
WORKDIR /app
COPY cpanfile cpanfile.snapshot ./
RUN carton install --deployment
CMD ["carton", "exec", "plackup"]
