# Rendered by oh-builder 0.1.0 from dockerfiles/deps.Dockerfile.j2: the dependencies
# image. Everything the agent needs lives under /openhands, relocated so that it runs
# on any base image (see docs/design.md). Build secret `cacert`: the CA bundle for HTTPS.
#
# Cross-assembled: every stage that downloads, unpacks, installs or patches runs on the
# build platform and writes the target platform's files (TARGETARCH). Only `check` runs
# the target's programs, under emulation when the target is another architecture.
# Three layers, each its own cache key and each byte-identical on every base:
#   system  CPython, tools, Chromium, libraries, locale, terminfo, fonts, certificates,
#           wrappers          (changes with deps.tools / deps.browser / the deps base)
#   venv    the locked dependencies, relocated, with bytecode   (changes with the lock)
#   app     the app's source, added by the runtime image        (changes with the source)

FROM --platform=$BUILDPLATFORM debian:trixie@sha256:73894be5ff9bd69bbaef37722e1a4993cddd30141b672c022cc7055545cafafd AS host
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      python3 python3-venv patchelf ca-certificates busybox-static >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    PIP_CERT=/run/secrets/cacert python3 -m venv /opt/oh-build \
 && PIP_CERT=/run/secrets/cacert /opt/oh-build/bin/pip install -q --no-cache-dir \
      "poetry>=2,<3" "poetry-plugin-export>=1.8" "installer>=0.7,<2"

# The locked requirements (with hashes): the same for every platform.
FROM host AS requirements
COPY lock/ /src/app/
RUN /opt/oh-build/bin/poetry -C /src/app check --lock \
 && /opt/oh-build/bin/poetry -C /src/app export -f requirements.txt \
      --only main -o /src/requirements.txt

# Debian packages of the target architecture, unpacked without running anything
# (downloads kept in a cache mount). CPython's packages are a stage of their own: the
# venv layer is built from them alone.
FROM host AS python-debs
ARG TARGETARCH
RUN --mount=type=cache,target=/var/cache/oh-debs,sharing=locked \
    --mount=type=bind,source=tools/debs.py,target=/opt/oh-tools/debs.py \
    OH_DEBS_CACHE=/var/cache/oh-debs \
    python3 /opt/oh-tools/debs.py "$TARGETARCH" /stage python3 libc6 libstdc++6 libgcc-s1 libatomic1

# The system layer. The unpacked packages stay out of every layer (and of the cache).
# Every file gets one fixed mtime (as the venv's do): a rebuild gives the same bytes, so
# equivalent cached results never carry different layer digests.
FROM host AS system
ARG TARGETARCH
COPY wrappers/ /openhands/
RUN --mount=type=cache,target=/var/cache/oh-debs,sharing=locked \
    --mount=type=bind,source=tools/debs.py,target=/opt/oh-tools/debs.py \
    --mount=type=bind,source=tools/collect.py,target=/opt/oh-tools/collect.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    --mount=type=bind,source=tools/wheels.py,target=/opt/oh-tools/wheels.py \
    --mount=type=bind,source=tools/finish.py,target=/opt/oh-tools/finish.py \
    OH_DEBS_CACHE=/var/cache/oh-debs \
    python3 /opt/oh-tools/debs.py "$TARGETARCH" /tmp/stage \
      bash \
      busybox-static \
      chromium \
      fontconfig \
      fonts-dejavu-core \
      git \
      jq \
      libatomic1 \
      libc-bin \
      libc6 \
      libgcc-s1 \
      libstdc++6 \
      ncurses-base \
      nodejs \
      python3 \
      ripgrep \
      tini \
      tmux \
 && python3 /opt/oh-tools/collect.py /openhands /tmp/stage tmux bash git ripgrep jq nodejs chromium \
 && python3 /opt/oh-tools/relocate.py system /openhands /tmp/stage $(cat /openhands/.dlopen) \
 && rm -rf /openhands/.dlopen /tmp/stage && mkdir /openhands/venv \
 && /opt/oh-build/bin/python /opt/oh-tools/finish.py /openhands browser \
 && touch /openhands/.oh-system-3ce163e5edcae9c7 \
 && mkdir -p /oh-out/oh-layers/system-3ce163e5edcae9c7 \
 && mv /openhands /oh-out/oh-layers/system-3ce163e5edcae9c7/ \
 && find /oh-out -exec touch -h -d @1700000000 {} +

# The venv layer: its inputs are the lock and the target's Python packages only.
FROM host AS wheels
COPY --from=requirements /src/requirements.txt /src/requirements.txt
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    --mount=type=bind,from=python-debs,source=/stage,target=/stage \
    --mount=type=bind,source=tools/wheels.py,target=/opt/oh-tools/wheels.py \
    PIP_CERT=/run/secrets/cacert /opt/oh-build/bin/python /opt/oh-tools/wheels.py \
      download /src/requirements.txt /stage /wheels

FROM host AS venv
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    --mount=type=bind,from=python-debs,source=/stage,target=/stage \
    --mount=type=bind,source=tools/wheels.py,target=/opt/oh-tools/wheels.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    /opt/oh-build/bin/python /opt/oh-tools/wheels.py install /openhands/venv /stage /wheels \
      action_server browser \
 && python3 /opt/oh-tools/relocate.py venv /openhands/venv /stage /openhands/lib \
 && touch /openhands/venv/.oh-venv-086b579fa6ddf683 \
 && mkdir -p /oh-out/oh-layers/venv-086b579fa6ddf683/openhands \
 && mv /openhands/venv /oh-out/oh-layers/venv-086b579fa6ddf683/openhands/ \
 && find /oh-out -exec touch -h -d @1700000000 {} +

# Smoke checks: the target's programs run here, bounded in time, on the two layers
# mounted read-only (as in a runtime image), so nothing is copied or stored again.
FROM host AS check
ARG BUILDPLATFORM
ARG TARGETPLATFORM
RUN --mount=type=bind,from=system,source=/oh-out/oh-layers/system-3ce163e5edcae9c7/openhands,target=/openhands \
    --mount=type=bind,from=venv,source=/oh-out/oh-layers/venv-086b579fa6ddf683/openhands/venv,target=/openhands/venv \
    --mount=type=bind,source=tools/check.py,target=/opt/oh-tools/check.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    python3 /opt/oh-tools/check.py /openhands browser \
      "$BUILDPLATFORM" "$TARGETPLATFORM" /check/ok -

# Each bundle layer is stored under /oh-layers/NAME-KEY, laid out as it sits in a runtime
# image (system-KEY/openhands/..., venv-KEY/openhands/venv/...): the runtime image copies
# it with `COPY --link --from=deps /oh-layers/NAME-KEY/ /`. Copying a directory's content
# to / keeps every entry's metadata (fixed mtimes), so a re-run of that copy, on any
# runner, after any cache loss, gives the same blob; a copy into a directory it has to
# create (COPY ... /openhands/venv/) stamps that directory with the current time and so
# gives another blob each run. The key in the path (a hash of the layer's inputs, see
# layer_keys() in builder/prepare.py) makes each runtime step's instruction change with
# its layer's inputs: BuildKit 0.13 once served the runtime image's venv COPY from the
# previous lock's record although the deps image was rebuilt correctly (docs/design.md).
# /oh-layers/setup-KEY is the kit the runtime image's setup step mounts.
FROM scratch AS deps
COPY --link --from=check /check/ok /oh-layers/checked
COPY --link --from=system /oh-out/oh-layers/system-3ce163e5edcae9c7/openhands/usr/bin/busybox /oh-out/oh-layers/system-3ce163e5edcae9c7/openhands/share/setup.sh /oh-layers/setup-6aa2a877f1dc4e12/
COPY --link --from=system /oh-out/ /
COPY --link --from=venv /oh-out/ /
