# One image for the four services; each Deployment picks its module: args: ["services.<name>"].
#   docker build -t koo-suite:0.1.0 .
#   docker run --rm -e ORDERS_HTTP_HOST=0.0.0.0 -e ORDERS_HTTP_PORT=8080 ... koo-suite:0.1.0 services.orders
#
# The base image is pinned by tag to an exact CPython patch release and Debian release. It is not pinned by
# digest: the machine this was written on has no Docker engine or registry client, so no digest could be
# looked up. Where one is at hand, append it (`docker buildx imagetools inspect python:3.11.14-slim-bookworm`
# prints it): ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm@sha256:<digest>.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- build: the locked runtime dependencies in a virtualenv ------------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# The runtime lock only (requirements-dev.lock's test and lint tools stay out of the image). Every package at
# its locked version, checked against its hash; --no-deps: nothing outside the lock is resolved; wheels only:
# nothing is compiled, so no build tool (and no unpinned build dependency) is fetched.
RUN /opt/venv/bin/pip install --require-hashes --no-deps --only-binary=:all: -r /tmp/requirements.lock

# --- runtime: the virtualenv and the code, a non-root user ----------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# The code stays owned by root, so the service user can read it but not change it; `python -m` finds the
# packages in the working directory. The root filesystem is read-only in the cluster (only /tmp, an emptyDir
# there, is writable), so the bytecode is compiled here, at build time.
WORKDIR /app
COPY shared/ shared/
COPY services/ services/
RUN python -m compileall -q shared services
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m"]
CMD ["services.orders"]
