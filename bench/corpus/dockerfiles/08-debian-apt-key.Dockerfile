FROM debian:bullseye
RUN apt-get update && apt-get install -y gnupg wget ca-certificates
RUN wget -qO - https://www.mongodb.org/static/pgp/server-6.0.asc | apt-key add - \
 && echo "deb http://repo.mongodb.org/apt/debian bullseye/mongodb-org/6.0 main" | tee /etc/apt/sources.list.d/mongodb-org-6.0.list \
 && apt-get update && apt-get install -y mongodb-org
EXPOSE 27017
CMD ["mongod"]
