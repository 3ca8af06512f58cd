# Apache Kafka on Debian bookworm with a Java 17 runtime, from the same Maven
# Central jars as riverbed's local platform. Laid out like apache/kafka:
# /opt/kafka/bin/{kafka-storage.sh,kafka-server-start.sh,kafka-topics.sh,…},
# /opt/kafka/libs, /opt/kafka/config; runs as uid 1000 (appuser).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 1000 appuser \
 && useradd --uid 1000 --gid 1000 --create-home --home-dir /home/appuser --shell /bin/bash appuser
COPY libs/ /opt/kafka/libs/
COPY config/ /opt/kafka/config/
COPY bin/ /opt/kafka/bin/
RUN chmod 0755 /opt/kafka/bin/*.sh \
 && mkdir -p /opt/kafka/logs /var/lib/kafka/data \
 && chown -R 1000:1000 /opt/kafka/config /opt/kafka/logs /var/lib/kafka \
 && java -version
ENV PATH=/opt/kafka/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8
WORKDIR /opt/kafka
USER 1000:1000
CMD ["/opt/kafka/bin/kafka-server-start.sh", "/opt/kafka/config/server.properties"]
