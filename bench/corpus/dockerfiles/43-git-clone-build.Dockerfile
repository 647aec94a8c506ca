FROM gcc:13
RUN git clone --depth 1 https://github.com/redis/redis.git /src && cd /src && make -j"$(nproc)" && make install
EXPOSE 6379
CMD ["redis-server"]
