# check=skip=InvalidDefaultArgInFrom
# Rendered by oh-builder 0.1.0 from dockerfiles/runtime.Dockerfile.j2: a runtime
# image = any base image + the relocated /openhands bundle. No package manager and no
# shell of the base is used: setup runs with the bundle's static busybox.
# BASE_IMAGE has no default on purpose: the bake file always sets it (hence the check
# directive above: `docker buildx bake --call=check` reports nothing).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER 0:0
# Per-base setup (user, /workspace and the server's state directories in it) first, by the bundle's static busybox mounted from the
# deps image: no shell, libc or package manager of the base is used, and the step depends
# only on the base and that small kit, so a change of the bundle never runs it again.
RUN --mount=type=bind,from=deps,source=/oh-layers/setup-7016eeda1a0202fb,target=/oh-setup \
    ["/oh-setup/busybox", "sh", "/oh-setup/setup.sh", "project"]
# The bundle's layers: each identical on every base (same digest, stored and pushed
# once per platform, the same blob on every re-run); a lock change replaces the venv
# layer alone, a browser change the browser layer alone. Each source path names its
# layer's key, so each step is cached per layer input.
COPY --link --from=deps /oh-layers/system-a02b28a884e10903/ /
COPY --link --from=deps /oh-layers/venv-3153bb4abddaefce/ /
COPY --link --from=deps /oh-layers/browser-6dc972ba1e2d4bcb/ /
# The app source last: a source-only change rebuilds and pushes this one small layer. The
# context holds it as app/openhands/app/ with fixed mtimes: copied to /, every entry keeps
# them, so the same source gives the same blob on every run.
COPY --link --chown=0:0 app/ /
# /openhands/bin has only oh-* names; the plain-name fallbacks and the browser's
# directory (oh-chromium, `chromium`) come last, so a base's own programs always win.
ENV PATH=/openhands/bin:${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/openhands/fallback/bin:/openhands/browser/bin
# What this image is (builder/servers.py, builder/capabilities.py): `verify` reads it.
LABEL dev.oh-builder.server="action-server" dev.oh-builder.capabilities="browser"
WORKDIR /workspace
EXPOSE 8000
# A small action server (the sample app in app/). oh-action-execution-server runs its
# module as `MODULE PORT WORKDIR`.
USER 1000:1000
ENTRYPOINT []
CMD ["/openhands/bin/oh-action-execution-server", "8000", "/workspace"]
