# Rendered by oh-builder 0.1.0 from dockerfiles/deps.Dockerfile.j2: the dependencies
# image. Everything the agent needs lives under /openhands, relocated so that it runs
# on any base image (see docs/design.md). Build secret `cacert`: the CA bundle for HTTPS.

FROM debian:trixie AS system
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      python3 python3-venv python3-pip patchelf ca-certificates busybox-static \
      bash \
      chromium \
      fontconfig \
      fonts-dejavu-core \
      git \
      jq \
      nodejs \
      ripgrep \
      tmux \
    >/dev/null \
 && rm -rf /var/lib/apt/lists/*

# Poetry, for this build only: it exports the locked requirements (with hashes). The
# export is the same for every platform, so it runs natively on the build platform.
FROM --platform=$BUILDPLATFORM debian:trixie AS poetry
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends python3 python3-venv ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/*
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    PIP_CERT=/run/secrets/cacert python3 -m venv /opt/poetry \
 && PIP_CERT=/run/secrets/cacert /opt/poetry/bin/pip install -q --no-cache-dir \
      "poetry>=2,<3" "poetry-plugin-export>=1.8"
COPY app/pyproject.toml app/poetry.lock /src/app/
RUN /opt/poetry/bin/poetry -C /src/app check --lock \
 && /opt/poetry/bin/poetry -C /src/app export -f requirements.txt \
      --only main -o /src/requirements.txt

# The relocated CPython and the app's locked dependencies in a venv under /openhands.
FROM system AS bundle
COPY tools/ /opt/oh-tools/
RUN python3 /opt/oh-tools/collect.py /openhands tmux bash git ripgrep jq nodejs chromium
COPY --from=poetry /src/requirements.txt /tmp/requirements.txt
RUN --mount=type=secret,id=cacert,target=/run/secrets/cacert \
    /openhands/python/bin/python3 -m venv --without-pip /openhands/venv \
 && PIP_CERT=/run/secrets/cacert python3 -m pip --python /openhands/venv/bin/python \
      install -q --no-cache-dir --no-deps --require-hashes --break-system-packages \
      -r /tmp/requirements.txt \
 && /openhands/venv/bin/python -c "import site, pathlib; pathlib.Path(site.getsitepackages()[0], 'oh-app.pth').write_text('/openhands/app\\n')" \
 && find /openhands -name __pycache__ -prune -exec rm -rf {} + \
 && python3 /opt/oh-tools/relocate.py /openhands $(cat /openhands/.dlopen 2>/dev/null) \
 && rm -f /openhands/.dlopen
FROM bundle AS finish
ARG BUILDPLATFORM
ARG TARGETPLATFORM
COPY wrappers/ /openhands/
RUN python3 /opt/oh-tools/finish.py /openhands action_server browser \
      "$BUILDPLATFORM" "$TARGETPLATFORM"

FROM scratch AS deps
COPY --from=finish /openhands /openhands
