# check=skip=InvalidDefaultArgInFrom
# Rendered by oh-builder 0.1.0 from dockerfiles/runtime.Dockerfile.j2: a runtime
# image = any base image + the relocated /openhands bundle. No package manager and no
# shell of the base is used: setup runs with the bundle's static busybox.
# BASE_IMAGE has no default on purpose: the bake file always sets it (hence the check
# directive above: `docker buildx bake --call=check` reports nothing).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
USER 0:0
# Per-base setup (user, /workspace) first, by the bundle's static busybox mounted from the
# deps image: no shell, libc or package manager of the base is used, and the step depends
# only on the base and that small kit, so a change of the bundle never runs it again.
RUN --mount=type=bind,from=deps,source=/oh-layers/setup-6aa2a877f1dc4e12,target=/oh-setup \
    ["/oh-setup/busybox", "sh", "/oh-setup/setup.sh"]
# The system and venv layers: each identical on every base (same digest, stored and
# pushed once per platform, the same blob on every re-run); a lock change replaces the
# venv layer alone. Each source path names its layer's key, so each step is cached per
# layer input.
COPY --link --from=deps /oh-layers/system-3ce163e5edcae9c7/ /
COPY --link --from=deps /oh-layers/venv-086b579fa6ddf683/ /
# The app source last: a source-only change rebuilds and pushes this one small layer. The
# context holds it as app/openhands/app/ with fixed mtimes: copied to /, every entry keeps
# them, so the same source gives the same blob on every run.
COPY --link --chown=0:0 app/ /
ENV PATH=/openhands/bin:${PATH:-/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin}:/openhands/fallback/bin
USER 1000:1000
WORKDIR /workspace
EXPOSE 8000
ENTRYPOINT []
CMD ["/openhands/bin/oh-action-execution-server", "8000", "/workspace"]
