# Hand-made test bases. Each stage is one base image; see bases.sh.
FROM debian:bookworm AS pkgs
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      busybox-static musl musl-tools gcc libc6-dev ca-certificates >/dev/null \
 && printf '#include <stdio.h>\nint main(void){puts("hello from the base");return 0;}\n' >/hello.c \
 && musl-gcc -o /musl-hello /hello.c \
 && gcc -static -o /static-hello /hello.c \
 && mkdir -p /musl/lib /musl/usr/lib \
 && cp -L /lib/ld-musl-*.so.1 /musl/lib/ \
 && cp -a /usr/lib/*-linux-musl /musl/usr/lib/

# Libraries a base preloads, each built for that base's libc: an Alpine image's LD_PRELOAD
# of jemalloc, a host agent's /etc/ld.so.preload. They do nothing; the bundle's loader
# must never load them (the musl one would stop it), the base's programs still do.
FROM pkgs AS preload
RUN printf 'void __attribute__((constructor)) oh_test_preload(void) {}\n' >/pre.c \
 && gcc -shared -fPIC -o /libohpre-glibc.so /pre.c \
 && musl-gcc -shared -fPIC -o /libohpre-musl.so /pre.c

# A shell and nothing else: busybox, statically linked; no libc at all.
FROM scratch AS busybox
COPY --from=pkgs /bin/busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
RUN mkdir -p /etc /tmp /root && chmod 1777 /tmp \
 && echo 'root:x:0:0:root:/root:/bin/sh' >/etc/passwd && echo 'root:x:0:' >/etc/group
ENV PATH=/bin
CMD ["sh"]

# An Alpine stand-in: musl's loader and libc, busybox, a musl-linked program, no glibc.
FROM busybox AS musl
COPY --from=pkgs /musl/ /
COPY --from=pkgs /musl-hello /usr/bin/hello
COPY --from=preload /libohpre-musl.so /usr/lib/libohpre.so
RUN printf 'NAME="oh-test musl"\nID=oh-test-musl\n' >/etc/os-release
ENV PATH=/usr/local/bin:/usr/bin:/bin LD_PRELOAD=/usr/lib/libohpre.so

# Distroless style: a few files, one static program, no shell.
FROM scratch AS noshell
COPY --from=pkgs /static-hello /usr/bin/hello
COPY noshell/ /
ENV PATH=/usr/bin
CMD ["/usr/bin/hello"]

# Debian where uid and gid 1000 already belong to another user (like ubuntu's 'ubuntu').
FROM debian:bookworm AS uid1000
RUN groupadd -g 1000 pn && useradd -u 1000 -g 1000 -m -s /bin/bash pn

# Debian whose image config sets what the bundle's programs must never take from it and
# the agent's shell must keep: a library path and a Python of its own, its own CA
# bundle, a time zone, a variable of its own; a library it preloads, by LD_PRELOAD and by
# /etc/ld.so.preload; an nsswitch.conf naming modules neither it nor the bundle has (as
# an image made for LDAP or systemd users does).
FROM debian:bookworm AS envbase
COPY --from=pkgs /etc/ssl/certs/ca-certificates.crt /etc/ssl/base/ca.pem
COPY --from=preload /libohpre-glibc.so /opt/base/lib/libohpre.so
RUN mkdir -p /opt/base/python /opt/base/site \
 && echo /opt/base/lib/libohpre.so >/etc/ld.so.preload \
 && printf '%s\n' 'passwd: files sss systemd' 'group: files sss systemd' 'shadow: files sss' \
      'hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname' >/etc/nsswitch.conf
ENV LD_PRELOAD=/opt/base/lib/libohpre.so LD_LIBRARY_PATH=/opt/base/lib PYTHONHOME=/opt/base/python PYTHONPATH=/opt/base/site \
    SSL_CERT_FILE=/etc/ssl/base/ca.pem TZ=Europe/Paris OH_TEST_BASE_SETTING=kept
