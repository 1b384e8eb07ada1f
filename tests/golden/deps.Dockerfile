# Rendered by oh-builder 0.1.0 from dockerfiles/deps.Dockerfile.j2: the dependencies
# image. Everything the agent needs lives under /openhands, relocated so that it runs
# on any base image (see docs/design.md). Build secret `cacert`: the CA bundle for HTTPS.
#
# Cross-assembled: every stage that downloads, unpacks, installs or patches runs on the
# build platform and writes the target platform's files (TARGETARCH). Only `check` runs
# the target's programs, under emulation when the target is another architecture.
# The bundle is a few layers, each its own cache key and each byte-identical on every
# base of a platform:
#   system   CPython, bash, tmux, git and the other tools, their libraries, locale,
#            terminfo, CA bundle, wrappers               (changes with deps.tools)
#   browser  capability "browser": Chromium under /openhands/browser, the libraries it
#            needs beyond the system layer's core, fonts (changes with the browser)
#   venv     the locked dependencies, relocated, with bytecode   (changes with the lock)
#   app      the app's source, added by the runtime image        (changes with the source)
# Each layer's key (the NAME-KEY in its path) hashes the text of the stages it is built
# from and the files they read, taken from this rendered file (builder/layers.py): a
# change of one stage or of a script one stage mounts keys only the layers built from it.

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
COPY wrappers/bin/ /openhands/bin/
COPY wrappers/share/ /openhands/share/
COPY wrappers/micromamba/ /openhands/micromamba/
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
      tzdata \
 && python3 /opt/oh-tools/collect.py /openhands /tmp/stage tmux bash git ripgrep jq nodejs \
 && python3 /opt/oh-tools/relocate.py system /openhands /tmp/stage $(cat /openhands/.dlopen) \
 && rm -rf /openhands/.dlopen /tmp/stage && mkdir /openhands/venv /openhands/browser \
 && /opt/oh-build/bin/python /opt/oh-tools/finish.py /openhands \
 && touch /openhands/.oh-system-a02b28a884e10903 \
 && mkdir -p /oh-out/oh-layers/system-a02b28a884e10903 \
 && mv /openhands /oh-out/oh-layers/system-a02b28a884e10903/ \
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
    --mount=type=bind,source=tools/oh_env_hook.py,target=/opt/oh-tools/oh_env_hook.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    /opt/oh-build/bin/python /opt/oh-tools/wheels.py install /openhands/venv /stage /wheels \
      action_server \
 && python3 /opt/oh-tools/relocate.py addon /openhands/venv /stage /openhands/lib /openhands/venv/oh-lib \
 && touch /openhands/venv/.oh-venv-3153bb4abddaefce \
 && mkdir -p /oh-out/oh-layers/venv-3153bb4abddaefce/openhands \
 && mv /openhands/venv /oh-out/oh-layers/venv-3153bb4abddaefce/openhands/ \
 && find /oh-out -exec touch -h -d @1700000000 {} +

# The browser layer (capability "browser"), all under /openhands/browser: Chromium, the
# libraries it needs beyond what every system layer carries (CPython's closure, glibc,
# the C++ runtime: read from the same packages), those NSS loads with dlopen, fonts and
# their fontconfig file, bin/oh-chromium, and bin/chromium (a plain-name link to it: the
# directory is last on a browser image's PATH, where OpenHands' browser tool looks).
FROM host AS browser
ARG TARGETARCH
COPY wrappers/browser/ /openhands/browser/
RUN --mount=type=cache,target=/var/cache/oh-debs,sharing=locked \
    --mount=type=bind,source=tools/debs.py,target=/opt/oh-tools/debs.py \
    --mount=type=bind,source=tools/collect.py,target=/opt/oh-tools/collect.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    OH_DEBS_CACHE=/var/cache/oh-debs \
    python3 /opt/oh-tools/debs.py "$TARGETARCH" /tmp/stage \
      chromium \
      fontconfig \
      fonts-dejavu-core \
      libatomic1 \
      libc6 \
      libgcc-s1 \
      libstdc++6 \
      python3 \
 && python3 /opt/oh-tools/collect.py --browser /openhands/browser /tmp/stage \
 && python3 /opt/oh-tools/relocate.py addon /openhands/browser /tmp/stage /openhands/lib /openhands/browser/lib $(cat /openhands/browser/.dlopen) \
 && rm -rf /openhands/browser/.dlopen /tmp/stage \
 && touch /openhands/browser/.oh-browser-6dc972ba1e2d4bcb \
 && mkdir -p /oh-out/oh-layers/browser-6dc972ba1e2d4bcb/openhands \
 && mv /openhands/browser /oh-out/oh-layers/browser-6dc972ba1e2d4bcb/openhands/ \
 && find /oh-out -exec touch -h -d @1700000000 {} +

# Smoke checks, one stage per layer: each runs the target's programs of its layer (on
# the layers mounted read-only, as in a runtime image, so nothing is copied or stored
# again), bounded in time, and is cached with that layer: a lock change re-runs the venv
# check alone, never Chromium's.
FROM host AS check-system
ARG BUILDPLATFORM
ARG TARGETPLATFORM
RUN --mount=type=bind,from=system,source=/oh-out/oh-layers/system-a02b28a884e10903/openhands,target=/openhands \
    --mount=type=bind,source=tools/check.py,target=/opt/oh-tools/check.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    python3 /opt/oh-tools/check.py system /openhands "$BUILDPLATFORM" "$TARGETPLATFORM" /out/oh-layers/checked/system -

FROM host AS check-venv
ARG BUILDPLATFORM
ARG TARGETPLATFORM
RUN --mount=type=bind,from=system,source=/oh-out/oh-layers/system-a02b28a884e10903/openhands,target=/openhands \
    --mount=type=bind,from=venv,source=/oh-out/oh-layers/venv-3153bb4abddaefce/openhands/venv,target=/openhands/venv \
    --mount=type=bind,source=tools/check.py,target=/opt/oh-tools/check.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    python3 /opt/oh-tools/check.py venv /openhands "$BUILDPLATFORM" "$TARGETPLATFORM" /out/oh-layers/checked/venv -

FROM host AS check-browser
ARG BUILDPLATFORM
ARG TARGETPLATFORM
RUN --mount=type=bind,from=system,source=/oh-out/oh-layers/system-a02b28a884e10903/openhands,target=/openhands \
    --mount=type=bind,from=browser,source=/oh-out/oh-layers/browser-6dc972ba1e2d4bcb/openhands/browser,target=/openhands/browser \
    --mount=type=bind,source=tools/check.py,target=/opt/oh-tools/check.py \
    --mount=type=bind,source=tools/elfinfo.py,target=/opt/oh-tools/elfinfo.py \
    --mount=type=bind,source=tools/relocate.py,target=/opt/oh-tools/relocate.py \
    python3 /opt/oh-tools/check.py browser /openhands "$BUILDPLATFORM" "$TARGETPLATFORM" /out/oh-layers/checked/browser -

# Each bundle layer is stored under /oh-layers/NAME-KEY, laid out as it sits in a runtime
# image (system-KEY/openhands/..., venv-KEY/openhands/venv/...,
# browser-KEY/openhands/browser/...): the runtime image copies
# it with `COPY --link --from=deps /oh-layers/NAME-KEY/ /`. Copying a directory's content
# to / keeps every entry's metadata (fixed mtimes), so a re-run of that copy, on any
# runner, after any cache loss, gives the same blob; a copy into a directory it has to
# create (COPY ... /openhands/venv/) stamps that directory with the current time and so
# gives another blob each run. The key in the path (a hash of the layer's inputs, see
# builder/layers.py) makes each runtime step's instruction change with
# its layer's inputs: BuildKit 0.13 once served the runtime image's venv COPY from the
# previous lock's record although the deps image was rebuilt correctly (docs/design.md).
# The layers' order here and in a runtime image is fixed: system, venv, then browser.
# /oh-layers/checked/LAYER are the checks' markers (a small layer each, the same blob
# every time); /oh-layers/setup-KEY is the kit the runtime image's setup step mounts.
FROM scratch AS deps
COPY --link --from=check-system /out/ /
COPY --link --from=check-venv /out/ /
COPY --link --from=check-browser /out/ /
COPY --link --from=system /oh-out/oh-layers/system-a02b28a884e10903/openhands/usr/bin/busybox /oh-out/oh-layers/system-a02b28a884e10903/openhands/share/setup.sh /oh-layers/setup-7016eeda1a0202fb/
COPY --link --from=system /oh-out/ /
COPY --link --from=venv /oh-out/ /
COPY --link --from=browser /oh-out/ /
