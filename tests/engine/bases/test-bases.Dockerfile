# Hand-made test bases. Each stage is one base image; see bases.sh.
FROM debian:bookworm AS pkgs
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      busybox-static musl musl-tools gcc libc6-dev >/dev/null \
 && printf '#include <stdio.h>\nint main(void){puts("hello from the base");return 0;}\n' >/hello.c \
 && musl-gcc -o /musl-hello /hello.c \
 && gcc -static -o /static-hello /hello.c \
 && mkdir -p /musl/lib /musl/usr/lib \
 && cp -L /lib/ld-musl-*.so.1 /musl/lib/ \
 && cp -a /usr/lib/*-linux-musl /musl/usr/lib/

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
RUN printf 'NAME="oh-test musl"\nID=oh-test-musl\n' >/etc/os-release
ENV PATH=/usr/local/bin:/usr/bin:/bin

# Distroless style: a few files, one static program, no shell.
FROM scratch AS noshell
COPY --from=pkgs /static-hello /usr/bin/hello
COPY noshell/ /
ENV PATH=/usr/bin
CMD ["/usr/bin/hello"]

# Debian where uid and gid 1000 already belong to another user (like ubuntu's 'ubuntu').
FROM debian:bookworm AS uid1000
RUN groupadd -g 1000 pn && useradd -u 1000 -g 1000 -m -s /bin/bash pn
