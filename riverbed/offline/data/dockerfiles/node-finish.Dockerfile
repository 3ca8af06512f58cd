# Restore the node image's start-up settings after the control-plane images
# were imported into its containerd (`docker commit` keeps the import
# container's command; the engine's commit cannot set STOPSIGNAL).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT ["/usr/local/bin/entrypoint", "/sbin/init"]
CMD []
