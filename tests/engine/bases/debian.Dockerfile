# A Debian image from a debootstrap --variant=minbase tarball, as the official
# Debian images are made. The context is the tarball cache directory.
FROM scratch
ARG SUITE
ARG TARGETARCH
ADD ${SUITE}-${TARGETARCH}.tar /
CMD ["bash"]
