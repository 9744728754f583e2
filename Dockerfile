# One image for the four services; each Deployment picks its module: args: ["services.<name>"].
#   docker build -t koo-suite:0.1.0 .
#   docker run --rm -e ORDERS_HTTP_HOST=0.0.0.0 -e ORDERS_HTTP_PORT=8080 ... koo-suite:0.1.0 services.orders

ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# --- build: install the project and its pinned dependencies into a virtualenv -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml ./
COPY shared/ shared/
COPY services/ services/
COPY devstack/ devstack/
RUN pip install --no-cache-dir .

# --- runtime: the virtualenv only, no sources, no build tools, a non-root user -------------------------
FROM ${PYTHON_IMAGE}
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
            --shell /usr/sbin/nologin app
COPY --from=build /opt/venv /opt/venv
# An empty, root-owned working directory (python -m puts it on sys.path). The root filesystem is
# read-only in the cluster; only /tmp (an emptyDir there) is writable.
WORKDIR /app
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["python", "-m"]
CMD ["services.orders"]
