# wsgate's container image: make docker (or docker build -t wsgate .), then
#   docker run --rm -p 8080:8080 -e WSGATE_API_KEY=... wsgate
# Settings come as WSGATE_* variables or as flags after the image name. Change the
# port with WSGATE_ADDR rather than -addr: the health check reads the same variable.

# The build stage compiles the same static binary as make dist: make release-binary
# (no cgo, trimmed paths, stripped, the version set).
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=unknown
RUN make release-binary OUT=/out/wsgate VERSION="$VERSION" COMMIT="$COMMIT"

# distroless/static: no shell and no package manager to attack or patch, CA
# certificates for rediss://, a non-root user (nonroot, uid 65532); about 2 MB. It
# has no curl or wget, so the health check is the binary's own -healthcheck, which
# GETs /healthz over loopback.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/wsgate /usr/local/bin/wsgate
USER nonroot:nonroot
ENV WSGATE_ADDR=:8080
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 CMD ["/usr/local/bin/wsgate", "-healthcheck"]
ENTRYPOINT ["/usr/local/bin/wsgate"]
