# The kind node image: the node's operating system plus Kubernetes' programs
# (as `kind build node-image` lays them out) and its version file.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY bin/ /usr/bin/
COPY local-bin/ /usr/local/bin/
ARG KUBERNETES_VERSION
RUN echo "${KUBERNETES_VERSION}" > /kind/version \
 && chmod 0755 /usr/bin/kubelet /usr/bin/kubeadm /usr/bin/kubectl /usr/local/bin/crictl
COPY manifests/ /kind/manifests/
