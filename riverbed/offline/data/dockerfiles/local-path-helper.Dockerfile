# The helper pod of kind's local-path storage: it needs sh, mkdir and rm
# (setup: `mkdir -m 0777 -p "$VOL_DIR"`, teardown: `rm -rf "$VOL_DIR"`).
# Debian's statically linked busybox, alone in an image.
ARG BASE_IMAGE
FROM ${BASE_IMAGE} AS busybox
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends busybox-static \
 && rm -rf /var/lib/apt/lists/*

FROM scratch
COPY --from=busybox /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ENV PATH=/bin
