# ocisign in a small image: docker build -t ocisign . && docker run --rm ocisign --help
# Stage 1 builds the wheel (and its man pages); stage 2 installs it without build tools.
FROM python:3.12-slim AS build
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md LICENSE ./
COPY scripts/manpages.py scripts/manpages.py
COPY src src
RUN pip install --no-cache-dir build==1.2.2 && python -m build --wheel --outdir /dist

FROM python:3.12-slim
LABEL org.opencontainers.image.title="ocisign" \
      org.opencontainers.image.description="Sign and verify OCI images, artifacts and boot artifacts" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --create-home --uid 10001 ocisign
USER ocisign
WORKDIR /work
ENTRYPOINT ["ocisign"]
CMD ["--help"]
