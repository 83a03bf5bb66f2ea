# ir2dis: the Red bot with the ir2dis cog, started by `python -m standalone`.
#
# The base image is a build argument so the image can be built where Docker Hub is out of
# reach (any Debian-based image with Python 3.11 as `python3` will do). Behind a
# TLS-intercepting proxy, hand its CA in as a BuildKit secret (it never lands in a layer):
#   DOCKER_BUILDKIT=1 docker build --secret id=cacert,src=/path/to/ca.crt -t ir2dis .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python3 -m venv /opt/venv
# Dependencies first, with empty packages, so that a code change does not reinstall Red.
COPY pyproject.toml README.md ./
RUN --mount=type=secret,id=cacert \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \
    mkdir -p ir2dis_cog standalone \
    && touch ir2dis_cog/__init__.py standalone/__init__.py \
    && /opt/venv/bin/pip install --upgrade pip wheel \
    && /opt/venv/bin/pip install ".[postgres,mysql]" \
    && rm -rf ir2dis_cog standalone build ./*.egg-info
COPY ir2dis_cog ./ir2dis_cog
COPY standalone ./standalone
RUN --mount=type=secret,id=cacert \
    if [ -f /run/secrets/cacert ]; then export PIP_CERT=/run/secrets/cacert; fi; \
    /opt/venv/bin/pip install --no-deps --force-reinstall . \
    && rm -rf build ./*.egg-info \
    && /opt/venv/bin/python -c "import ir2dis_cog, standalone.runner; assert callable(ir2dis_cog.setup)"

FROM ${PYTHON_IMAGE} AS runtime
# A fixed uid >= 1000 with a home: Red would otherwise treat it as a system user and keep
# its instance list outside /data.
RUN useradd --create-home --uid 1000 --user-group ir2dis \
    && mkdir -p /data \
    && chown ir2dis:ir2dis /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATA_DIR=/data \
    LOG_FORMAT=json \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080
USER ir2dis
WORKDIR /home/ir2dis
# The SQLite database, the Red instance and the iRacing login state all live here.
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python", "-m", "standalone.healthcheck"]
STOPSIGNAL SIGTERM
CMD ["python", "-m", "standalone"]
