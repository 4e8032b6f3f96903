# Build: docker build -t danvan .
# Run:   docker run -d --name danvan -e DANVAN_TELEGRAM_TOKEN=… -v danvan-data:/data danvan
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/danvan . \
 && mkdir -p /out/data

# Static, non-root, with CA certificates; time zones are embedded in the
# binary (time/tzdata).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/danvan /usr/local/bin/danvan
# The volume's mount point belongs to the non-root user, so a fresh named
# volume is writable.
COPY --from=build --chown=65532:65532 /out/data /data
ENV DANVAN_STORE_PATH=/data/danvan.db \
    DANVAN_BACKUP_DIR=/data/backups \
    DANVAN_HTTP_LISTEN=0.0.0.0:9090
VOLUME ["/data"]
# /healthz and /metrics; publish only to the host's loopback or a monitoring
# network (-p 127.0.0.1:9090:9090), never to the Internet.
EXPOSE 9090
USER nonroot:nonroot
# No curl in a static image: the binary asks its own /healthz.
HEALTHCHECK --interval=30s --timeout=10s --start-period=30s --retries=3 \
  CMD ["/usr/local/bin/danvan", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/danvan"]
# Pass -config /etc/danvan/config.toml (mounted) or use DANVAN_* variables.
CMD ["run"]
