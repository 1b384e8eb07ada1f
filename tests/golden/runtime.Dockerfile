# Rendered by oh-builder 0.1.0 from dockerfiles/runtime.Dockerfile.j2: a runtime
# image = any base image + the relocated /openhands bundle. No package manager and no
# shell of the base is used: setup runs with the bundle's own Python.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
# The system and venv layers: each identical on every base (same digest, stored and
# pushed once per platform); a lock change replaces only the venv layer.
COPY --link --chown=0:0 --from=deps /oh-layers/system/openhands /openhands
COPY --link --chown=0:0 --from=deps /oh-layers/venv/openhands/venv /openhands/venv
USER 0:0
RUN ["/openhands/bin/oh-python", "-I", "/openhands/share/setup_runtime.py"]
# The app source last: a source-only change rebuilds and pushes this one small layer.
COPY --link --chown=0:0 app/ /openhands/app/
ENV PATH=/openhands/bin:${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/openhands/fallback/bin
USER 1000:1000
WORKDIR /workspace
EXPOSE 8000
ENTRYPOINT []
CMD ["/openhands/bin/oh-action-execution-server", "8000", "/workspace"]
